"""The machine a run or a benchmark ran on, in the words a run card needs: CPU model, instruction set, BLAS, cores.

A number measured on a CPU means little without the CPU: TensorFlow's oneDNN kernels and OpenBLAS
pick different code for AVX2, AVX-512 and AMX, so the same training or Tucker step runs at
different speeds and rounds differently.  :func:`describe` gathers what ``tdfake report --machine``
writes into a run card; the benches print the same CPU model.  Linux's ``/proc/cpuinfo`` is read
where it exists; elsewhere the fields fall back to what :mod:`platform` knows.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

ISA_LEVELS = (("AMX", ("amx_tile",)), ("AVX512_BF16", ("avx512_bf16",)), ("AVX-512F", ("avx512f",)),
              ("AVX2", ("avx2",)))
"""x86 instruction-set levels, highest first, each with the /proc/cpuinfo flags that mean it is present."""


def cpuinfo_field(name: str) -> str | None:
    """The first core's value of a /proc/cpuinfo field (Linux: "model name", "flags", "cpu MHz"), else None."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == name:
                return value.strip()
    except OSError:
        pass
    return None


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (Linux), else what ``platform`` knows."""
    return cpuinfo_field("model name") or platform.processor() or platform.machine()


def instruction_set(flags: str | None = None) -> str:
    """The highest of AMX, AVX512_BF16, AVX-512F and AVX2 the CPU has (``flags``: /proc/cpuinfo's, read if None).

    A CPU with none of them (or a machine without /proc/cpuinfo) is named by its architecture.
    """
    present = set(((cpuinfo_field("flags") if flags is None else flags) or "").split())
    for level, needed in ISA_LEVELS:
        if present.issuperset(needed):
            return level
    return f"{platform.machine()}, none of {', '.join(level for level, _ in ISA_LEVELS)}"


def blas() -> str:
    """NumPy's BLAS as threadpoolctl sees it at run time: library, version, the core type it chose, threads.

    Other packages may load BLAS libraries of their own (SciPy, scikit-learn); NumPy's, the one the
    Tucker step runs on, is the one a wheel ships in ``numpy.libs``.  Where none is there (a conda
    NumPy linked to a shared BLAS) every loaded BLAS is named.
    """
    import numpy
    from threadpoolctl import threadpool_info

    home = Path(numpy.__file__).resolve().parent
    pools = [p for p in threadpool_info() if p["user_api"] == "blas"]
    own = [p for p in pools if Path(p["filepath"]).resolve().parent in (home.parent / "numpy.libs", home / ".libs")]
    return "; ".join(f"{p['internal_api']} {p.get('version') or ''} (core type {p.get('architecture') or 'n/a'}), "
                     f"{p['num_threads']} threads" for p in own or pools) or "none loaded"


def usable_cores() -> int:
    """The cores this process may run on (its affinity mask, which a container or ``taskset`` narrows)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def describe() -> dict[str, str | int]:
    """The run card's machine fields for this machine: ``cpu``, ``isa``, ``cores``, ``blas``."""
    return {"cpu": cpu_model(), "isa": instruction_set(), "cores": usable_cores(), "blas": blas()}
