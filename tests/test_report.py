"""Results pages generated from runs' CSVs (tdfake.report, `tdfake report`): every committed page regenerates
byte for byte from the CSVs beside it, tables agree with the CSVs, prose outside the markers survives.

``tests/data/report/demo_tiny/`` holds the CSVs of a real small run (the command is in its
``card.yaml``) and ``demo_tiny.md`` the page ``tdfake report`` made from them, with typed prose.
"""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from tdfake import machine, report
from tdfake.cli import main

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "data" / "report" / "demo_tiny"
HEADLINE_FIXTURE = ROOT / "tests" / "data" / "report" / "headline.md"


def committed_pages() -> list[Path]:
    """Every page beside a folder of sources: docs/results/<name>.md with docs/results/<name>/results.csv, and the
    fixture's."""
    folders = [*sorted((ROOT / "docs" / "results").glob("*/")), FIXTURE]
    return [f.with_suffix(".md") for f in folders if (f / "results.csv").is_file() and f.with_suffix(".md").is_file()]


def headline_pages() -> list[Path]:
    """Every committed file with a headline block: the README once it has one, and the fixture."""
    return [p for p in (ROOT / "README.md", HEADLINE_FIXTURE) if "headline" in report.blocks_on(p.read_text())]


def test_the_fixture_is_among_the_checked_pages():
    assert FIXTURE.with_suffix(".md") in committed_pages()
    assert HEADLINE_FIXTURE in headline_pages()


@pytest.mark.parametrize("page", committed_pages(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_committed_pages_regenerate(page, tmp_path, capsys):
    """`tdfake report FOLDER` on a copy of the page and its folder leaves the page byte for byte as committed."""
    copy = tmp_path / page.name
    shutil.copyfile(page, copy)
    shutil.copytree(report.page_folder(page), report.page_folder(copy))
    assert main(["report", str(report.page_folder(copy))]) == 0
    assert copy.read_bytes() == page.read_bytes(), f"{page.relative_to(ROOT)} differs from its CSVs: run " \
        f"`tdfake report {report.page_folder(page).relative_to(ROOT)}` and commit the page"
    assert set(report.blocks_on(page.read_text())) >= {"comparisons", "results"}


@pytest.mark.parametrize("page", headline_pages(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_committed_headlines_regenerate(page):
    """The headline block regenerates from the folders its marker names (relative to the page)."""
    assert report.headline_text(page) == page.read_text(), f"run `tdfake report --headline {page.name}`"


# ------------------------------------------------------------------------------- tables against the CSVs

def _fixture() -> report.RunTables:
    return report.read_tables(FIXTURE)


def _rows(table: str) -> list[list[str]]:
    """A Markdown table's body rows, as cells."""
    return [[c.strip() for c in line.strip("|").split(" | ")] for line in table.splitlines()[2:]]


def test_results_table_agrees_with_results_csv():
    """Mean ± sd recomputed from results.csv (ddof 1), se = mean half-width / 1.96, each seed's interval."""
    run = _fixture()
    table = report.results_markdown(run.results, run.seeds).split("\n\n")[1]
    rows = _rows(table)
    assert len(rows) == len(run.results.groupby(["test_set", "arm"]))
    for row in rows:
        test_set, arm = row[0], row[1].split()[0]
        part = run.results[(run.results["test_set"] == test_set) & (run.results["arm"] == arm)].sort_values("seed")
        assert row[2:4] == [f"{a:.3f} [{lo:.3f}, {hi:.3f}]" for a, lo, hi in
                            part[["auroc", "auroc_ci_low", "auroc_ci_high"]].to_numpy()]
        auroc = part["auroc"].to_numpy()
        assert row[4] == f"{auroc.mean():.3f} ± {np.std(auroc, ddof=1):.3f}"
        halfwidth = ((part["auroc_ci_high"] - part["auroc_ci_low"]) / 2).mean()
        assert row[5] == f"{halfwidth / 1.96:.3f}"


def test_comparison_table_shows_every_row_and_only_present_columns():
    run = _fixture()
    rows = _rows(report.comparisons_markdown(run.comparisons))
    assert len(rows) == len(run.comparisons)
    header = report.comparisons_markdown(run.comparisons).splitlines()[0]
    assert "seed effect" not in header and "df" not in header.split(" | ")  # columns the CSV does not have
    first = run.comparisons.iloc[0]
    assert rows[0][3] == (f"{first['delta_auroc']:+.3f} [{first['delta_auroc_ci_low']:+.3f}, "
                          f"{first['delta_auroc_ci_high']:+.3f}]").replace("-", "−")

    thinner = run.comparisons.drop(columns=["p_accuracy_at_threshold", "delta_auroc_seed_sd"])
    header = report.comparisons_markdown(thinner).splitlines()[0]
    assert "p (accuracy)" not in header and "sd of ΔAUROC over seeds" not in header


def test_comparison_table_takes_new_columns_and_leaves_missing_values_empty():
    """Random- and fixed-seed rows side by side, with df, non-inferiority p, MDD and power where given."""
    base = _fixture().comparisons.iloc[[0]]
    wider = pd.concat([base.assign(seed_effect="random", df_auroc=3.4, p_non_inferior=0.21, mdd_auroc=0.31,
                                   power_non_inferior=0.12),
                       base.assign(seed_effect="fixed", df_auroc=np.nan, p_non_inferior=0.04, mdd_auroc=0.2,
                                   power_non_inferior=np.nan)])
    table = report.comparisons_markdown(wider)
    header = table.splitlines()[0].strip("|").split(" | ")
    header = [h.strip() for h in header]
    for name in ("seed effect", "df", "non-inferiority p", "min. detectable ΔAUROC (80 % power)",
                 "non-inferiority power"):
        assert name in header
    random, fixed = (dict(zip(header, row)) for row in _rows(table))
    assert (random["seed effect"], random["df"], random["non-inferiority power"]) == ("random", "3.4", "0.120")
    assert (fixed["seed effect"], fixed["df"], fixed["non-inferiority power"]) == ("fixed", "", "")
    assert fixed["non-inferiority p"] == "0.040"


def test_headline_picks_the_random_seed_row_when_there_is_one(tmp_path):
    folder = tmp_path / "run"
    shutil.copytree(FIXTURE, folder)
    comparisons = pd.read_csv(folder / "comparisons.csv")
    fixed = comparisons.assign(seed_effect="fixed", p_auroc=0.5)
    random = comparisons.assign(seed_effect="random", p_auroc=0.0004)
    pd.concat([fixed, random]).to_csv(folder / "comparisons.csv", index=False)
    table = report.headline_markdown([report.read_tables(folder)], tmp_path)
    rows = {row[0]: row for row in _rows(table)}
    assert "p < 0.001" in rows["tk (`TK`)"][2] and "p 0.500" not in rows["tk (`TK`)"][2]
    assert rows["baseline (`OR`)"][1] == "0.943 / 0.839"  # the study's published figures, from results.csv


def test_headline_shows_the_pre_registered_primary_test_set_with_holm_p(tmp_path):
    """With hypotheses.csv the headline reads the primary hypothesis's test set, not the own test split."""
    folder = tmp_path / "run"
    shutil.copytree(FIXTURE, folder)
    for name in ("seeds.csv", "comparisons.csv"):
        table = pd.read_csv(folder / name)
        pool = table.assign(test_set="pool")
        if name == "seeds.csv":
            pool["auroc_mean"] = 0.777
        else:
            pool = pool.assign(p_auroc=0.01, p_auroc_holm=0.03)
        pd.concat([table, pool]).to_csv(folder / name, index=False)
    pd.DataFrame([{"id": "H1", "role": "primary", "statement": "tk non-inferior to baseline", "test_set": "pool",
                   "arm_a": "baseline", "arm_b": "tk", "test": "non_inferiority", "margin": 0.02}]
                 ).to_csv(folder / "hypotheses.csv", index=False)
    run = report.read_tables(folder)
    assert report.headline_test_set(run) == "pool"
    table = report.headline_markdown([run], tmp_path)
    assert "on `pool` (pre-registered primary)" in table.splitlines()[0]
    rows = {row[0]: row for row in _rows(table)}
    assert rows["baseline (`OR`)"][2].startswith("0.777 ± ")
    assert "p 0.010 (Holm 0.030)" in rows["tk (`TK`)"][2]


def test_with_a_pre_registration_the_other_test_sets_comparisons_are_labelled_exploratory(tmp_path, monkeypatch):
    monkeypatch.setattr(report, "verdicts_markdown", lambda hypotheses, comparisons: "")  # not under test here
    run = dataclasses.replace(report.read_tables(FIXTURE), hypotheses=HYPOTHESES.assign(test_set="test"))
    blocks = report.page_blocks(run, tmp_path / "run.md")
    assert "pre-registered tests are those on `test`" in blocks["comparisons"]
    assert "**exploratory**" in blocks["comparisons"]
    assert "exploratory" not in report.page_blocks(report.read_tables(FIXTURE), tmp_path / "x.md")["comparisons"]


# ------------------------------------------------------------------------------- pages

def test_update_keeps_prose_and_refreshes_only_the_blocks(tmp_path):
    page = tmp_path / "run.md"
    shutil.copytree(FIXTURE, tmp_path / "run")
    text = "# Mine\n\nTyped before.\n\n" + report.wrap("comparisons", "stale numbers") + "\n\nTyped after.\n"
    page.write_text(text)
    report.write_page(tmp_path / "run")
    written = page.read_text()
    assert written.startswith("# Mine\n\nTyped before.\n\n") and written.endswith("\n\nTyped after.\n")
    assert "stale numbers" not in written and "| tk vs baseline |" in written
    assert set(report.blocks_on(written)) == {"comparisons"}  # blocks the page lacks are not added


def test_a_block_without_its_source_is_an_error(tmp_path):
    shutil.copytree(FIXTURE, tmp_path / "run")
    (tmp_path / "run" / "card.yaml").unlink()
    (tmp_path / "run.md").write_text(report.wrap("card", "old card") + "\n")
    with pytest.raises(ValueError, match="its `card` block has no source"):
        report.write_page(tmp_path / "run")


def test_a_new_page_copies_its_sources_beside_it_and_regenerates_from_them(tmp_path):
    """From a run folder elsewhere: CSVs and card land in the page's folder; the page gets a Reading section."""
    run = tmp_path / "runs" / "tiny"
    shutil.copytree(FIXTURE, run)
    card = tmp_path / "card.yaml"
    shutil.move(run / "card.yaml", card)
    page = report.write_page(run, tmp_path / "docs" / "tiny.md", card)
    home = tmp_path / "docs" / "tiny"
    for name in (*report.SOURCE_FILES, report.CARD_FILE):
        assert (home / name).read_bytes() == (FIXTURE / name).read_bytes()
    text = page.read_text()
    assert text.startswith("# Results: demo_tiny") and text.endswith("## Reading\n")
    assert "[`comparisons.csv`](tiny/comparisons.csv)" in text
    before = page.read_bytes()
    report.write_page(home)
    assert page.read_bytes() == before


def test_sources_lacking_columns_or_rows_name_the_file(tmp_path):
    shutil.copytree(FIXTURE, tmp_path / "run")
    seeds = pd.read_csv(FIXTURE / "seeds.csv")
    seeds.drop(columns="auroc_sd").to_csv(tmp_path / "run" / "seeds.csv", index=False)
    with pytest.raises(ValueError, match=r"run/seeds.csv: no column\(s\) auroc_sd"):
        report.read_tables(tmp_path / "run")
    seeds[seeds["test_set"] == "test"].to_csv(tmp_path / "run" / "seeds.csv", index=False)
    with pytest.raises(ValueError, match="seeds.csv lacks .*'holdout'.* of results.csv"):
        report.read_tables(tmp_path / "run")


def test_run_card_names_cpu_and_isa_beside_the_commit():
    card = report.card_markdown(report.read_card(FIXTURE / "card.yaml"))
    labels = [row[0] for row in _rows(card)]
    assert labels[labels.index("commit") + 1] == "machine"
    described = yaml.safe_load((FIXTURE / "card.yaml").read_text())["machine"]
    assert f"{described['cpu']}; instruction set {described['isa']}" in card


@pytest.mark.parametrize("card, message", [
    ({"name": "x", "comit": "abc"}, "unknown run card field(s) comit"),
    ({"name": "x", "machine": {"cpu": "c", "isa": "AVX2"}}, "no commit; a run card names the commit"),
    ({"commit": "abc1234"}, "no machine; a run card names"),
    ({"commit": 1234567, "machine": {"cpu": "c", "isa": "AVX2"}}, "commit must be a string"),
    ({"commit": "abc1234", "machine": {"cpu": "some CPU"}}, "naming at least cpu (the CPU model) and isa"),
    ({"commit": "abc1234", "machine": {"cpu": "c", "isa": "AVX2", "ram": "1 TB"}}, "unknown machine field(s) ram"),
])
def test_bad_cards_name_the_file_and_the_fix(tmp_path, card, message):
    path = tmp_path / "card.yaml"
    path.write_text(yaml.safe_dump(card))
    with pytest.raises(ValueError, match="card.yaml: ") as err:
        report.read_card(path)
    assert message in str(err.value)


def test_fill_machine_keeps_the_card_and_writes_this_machine(tmp_path):
    path = tmp_path / "card.yaml"
    path.write_text(yaml.safe_dump({"name": "x", "commit": "abc1234", "machine": {"gpu": "none", "cpu": "old"}}))
    card = report.fill_machine(path)
    assert card["name"] == "x" and card["commit"] == "abc1234" and card["machine"]["gpu"] == "none"
    assert card["machine"]["cpu"] == machine.cpu_model() and card["machine"]["isa"] == machine.instruction_set()
    assert card["machine"]["cores"] == machine.usable_cores()


@pytest.mark.parametrize("flags, level", [
    ("fpu sse2 avx avx2 fma", "AVX2"),
    ("avx2 avx512f avx512bw", "AVX-512F"),
    ("avx2 avx512f avx512_bf16", "AVX512_BF16"),
    ("avx2 avx512f avx512_bf16 amx_bf16 amx_tile amx_int8", "AMX"),
])
def test_instruction_set_is_the_highest_level_present(flags, level):
    assert machine.instruction_set(flags) == level


def test_instruction_set_without_avx2_names_the_architecture():
    assert machine.instruction_set("fpu sse2").startswith(machine.platform.machine())


def test_the_report_module_does_not_import_tensorflow():
    code = "import sys, tdfake.report, tdfake.cli.report; assert 'tensorflow' not in sys.modules, 'tensorflow'"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_headline_fills_the_marker_and_records_its_folders(tmp_path):
    shutil.copytree(FIXTURE, tmp_path / "docs" / "run")
    readme = tmp_path / "README.md"
    readme.write_text(f"# Project\n\n{report.marker('headline')}\n{report.END}\n\nAfter.\n")
    assert main(["report", "--headline", str(readme), str(tmp_path / "docs" / "run")]) == 0
    text = readme.read_text()
    assert report.blocks_on(text) == {"headline": ["docs/run"]}
    assert "[demo_tiny, the report test's fixture](docs/run), 2 seeds" in text and text.endswith("\n\nAfter.\n")
    assert report.headline_text(readme) == text  # regenerates from the folders its marker names


def test_training_csv_where_present_becomes_its_block_and_names_collapsed_runs(tmp_path):
    run = tmp_path / "runs" / "tiny"
    shutil.copytree(FIXTURE, run)
    training = pd.DataFrame({"arm": ["baseline", "tk"], "seed": [42, 42], "epochs": [4, 4], "best_epoch": [3, 4],
                             "best_val_loss": [0.41, 0.52], "val_rows": [720, 720], "val_auroc": [0.91, 0.52],
                             "val_score_sd": [0.2, 0.01], "collapsed": ["", "validation AUROC 0.520 < 0.55"]})
    training.to_csv(run / "training.csv", index=False)
    page = report.write_page(run, tmp_path / "docs" / "tiny.md")
    assert (tmp_path / "docs" / "tiny" / "training.csv").read_bytes() == (run / "training.csv").read_bytes()
    text = page.read_text()
    assert "## Training runs and the collapsed-run check" in text
    assert "| tk | 42 | 4 | 4 | 0.520 | 0.520 | 0.01 | validation AUROC 0.520 < 0.55 |" in text
    assert "Collapsed by the pre-registered rule: tk seed 42." in text
    training.assign(collapsed="").to_csv(tmp_path / "docs" / "tiny" / "training.csv", index=False)
    report.write_page(tmp_path / "docs" / "tiny")
    assert "No run collapsed by the pre-registered rule" in page.read_text()


def _comparison(a, b, delta, low, high, margin=None, p_ni=None, p=0.5, p_holm=0.5, verdict="no detectable difference"):
    return {"test_set": "primary", "arm_a": a, "arm_b": b, "delta_auroc": delta, "delta_auroc_ci_low": low,
            "delta_auroc_ci_high": high, "p_auroc": p, "p_auroc_holm": p_holm, "verdict_auroc": verdict,
            "mdd_auroc": 0.021, "margin": margin, "p_non_inferior": p_ni, "power_non_inferior": 0.8 if margin else None,
            "non_inferior": None if margin is None else p_ni < 0.025,
            "inferior_beyond_margin": None if margin is None else high < -margin}


HYPOTHESES = pd.DataFrame([
    {"id": "H1", "role": "primary", "statement": "tk non-inferior", "test_set": "primary", "arm_a": "baseline",
     "arm_b": "tk", "test": "non_inferiority", "margin": 0.02},
    {"id": "C", "role": "positive control", "statement": "tk_r5 worse", "test_set": "primary", "arm_a": "baseline",
     "arm_b": "tk_r5", "test": "beyond_margin", "margin": 0.02},
    {"id": "S1", "role": "secondary", "statement": "tk against baseline", "test_set": "primary", "arm_a": "baseline",
     "arm_b": "tk", "test": "difference", "margin": None},
])


def test_verdicts_follow_the_pre_registered_tests_and_the_control_conditions_the_primary():
    comparisons = pd.DataFrame([_comparison("baseline", "tk", -0.004, -0.015, 0.007, 0.02, 0.001, p=0.4, p_holm=0.8),
                                _comparison("baseline", "tk_r5", -0.09, -0.11, -0.07, 0.02, 1.0, p=1e-5,
                                            p_holm=3e-5, verdict="lower")])
    text = report.verdicts_markdown(HYPOTHESES, comparisons)
    assert "| H1 | primary | tk non-inferior | primary | −0.004 [−0.015, +0.007] | 0.001 (one-sided) | " \
           "non-inferior (margin 0.02) | 0.021 | 0.800 |" in text
    assert "inferior by more than 0.02: shown | 0.021 |  |" in text
    assert "| 0.400 (Holm 0.800) | no detectable difference | 0.021 |  |" in text
    assert "read as stated" in text

    comparisons.loc[1, ["delta_auroc_ci_high", "inferior_beyond_margin"]] = [-0.01, False]  # reaches above −0.02
    comparisons.loc[0, ["p_non_inferior", "non_inferior"]] = [0.03, False]
    text = report.verdicts_markdown(HYPOTHESES, comparisons)
    assert "non-inferiority not shown" in text and "inferior by more than 0.02: not shown" in text
    assert "Positive control C not shown" in text and "**uninformative**" in text


def test_a_hypothesis_without_its_comparison_or_at_another_margin_is_an_error():
    comparisons = pd.DataFrame([_comparison("baseline", "tk", -0.004, -0.015, 0.007, 0.05, 0.001)])
    with pytest.raises(ValueError, match="H1: margin 0.02 but the comparison was tested at 0.05"):
        report.verdicts_markdown(HYPOTHESES, comparisons)
    comparisons.loc[0, "margin"] = 0.02
    with pytest.raises(ValueError, match="C: no comparison tk_r5 vs baseline on primary"):
        report.verdicts_markdown(HYPOTHESES, comparisons)
