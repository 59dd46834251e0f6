"""tdfake.metrics agrees with scikit-learn, hand-computed EERs and the study's published numbers."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    classification_report,
    confusion_matrix,
    roc_auc_score,
    roc_curve,
)

from tdfake import metrics
from tdfake.metrics import Report, equal_error_rate, evaluate_scores


@pytest.fixture
def scores():
    """Fixed, overlapping real/fake scores (120 real, 80 fake) and a separate validation set."""
    rng = np.random.default_rng(7)
    y = np.r_[np.zeros(120, int), np.ones(80, int)]
    s = np.clip(rng.normal(0.35 + 0.3 * y, 0.2), 0, 1)
    vy = np.r_[np.zeros(40, int), np.ones(40, int)]
    vs = np.clip(rng.normal(0.3 + 0.3 * vy, 0.2), 0, 1)
    return y, s, vy, vs


def test_table_agrees_with_scikit_learn(scores):
    y, s, vy, vs = scores
    report = evaluate_scores(y, s, vy, vs, n_bootstrap=50)
    pred = (s >= 0.5).astype(int)
    ref = classification_report(y, pred, output_dict=True, target_names=["REAL", "FAKE"])
    table = report.table
    assert list(table.index) == ["REAL", "FAKE", "AUROC", "THRESH", "TOTAL ACCURACY"]
    for name in ("REAL", "FAKE"):
        for col in ("precision", "recall", "f1-score", "support"):
            assert table.loc[name, col] == pytest.approx(ref[name][col])
    assert table.loc["TOTAL ACCURACY", "value"] == pytest.approx(accuracy_score(y, pred))
    assert table.loc["TOTAL ACCURACY", "support"] == 200
    assert table.loc["AUROC", "value"] == pytest.approx(roc_auc_score(y, s))
    assert table.loc["THRESH", "value"] == pytest.approx(equal_error_rate(y, s)[1])
    assert report.average_precision == pytest.approx(average_precision_score(y, s))
    at = report.at_study_threshold
    assert at.threshold == 0.5 and at.confusion == confusion_matrix(y, pred).tolist()
    assert at.accuracy == pytest.approx(accuracy_score(y, pred)) == report.accuracy
    for name, block in (("REAL", at.real), ("FAKE", at.fake)):
        assert block == at.of(name) == at.of(name.lower())
        assert (block.precision, block.recall, block.f1, block.support) == pytest.approx(
            (ref[name]["precision"], ref[name]["recall"], ref[name]["f1-score"], ref[name]["support"]))
    assert metrics.class_metrics(y, s) == at
    assert (report.n_real, report.n_fake) == (120, 80)


def test_threshold_is_chosen_on_validation_and_applied_to_test(scores):
    y, s, vy, vs = scores
    report = evaluate_scores(y, s, vy, vs, n_bootstrap=0)
    val_thr = equal_error_rate(vy, vs)[1]
    assert (report.chosen.source, report.chosen.method) == ("validation", "eer")
    assert report.chosen.threshold == pytest.approx(val_thr)
    pred = (s >= val_thr).astype(int)
    assert report.chosen.metrics.threshold == report.chosen.threshold
    assert report.chosen.metrics.accuracy == pytest.approx(accuracy_score(y, pred))
    assert report.chosen.metrics.confusion == confusion_matrix(y, pred).tolist()
    ref = classification_report(y, pred, output_dict=True, target_names=["REAL", "FAKE"])
    assert report.chosen.metrics.real.recall == pytest.approx(ref["REAL"]["recall"])
    assert report.chosen.metrics.fake.precision == pytest.approx(ref["FAKE"]["precision"])
    assert report.chosen.metrics == metrics.class_metrics(y, s, report.chosen.threshold)
    # the THRESH row stays the test-EER threshold, for comparison with the study
    assert report.table.loc["THRESH", "value"] == pytest.approx(equal_error_rate(y, s)[1])
    assert report.table.loc["THRESH", "value"] != pytest.approx(val_thr)


def test_without_validation_the_report_says_the_threshold_came_from_test(scores):
    y, s, _, _ = scores
    report = evaluate_scores(y, s, n_bootstrap=0)
    assert report.chosen.source == "test"
    assert "chosen on **test**" in report.to_markdown()


def test_other_threshold_methods(scores):
    y, s, vy, vs = scores
    fixed = evaluate_scores(y, s, vy, vs, threshold_method="fixed:0.5", n_bootstrap=0)
    assert fixed.chosen.threshold == 0.5 and fixed.chosen.method == "fixed:0.5"
    assert fixed.chosen.metrics.accuracy == pytest.approx(fixed.accuracy)
    assert fixed.chosen.metrics == fixed.at_study_threshold
    fpr, tpr, thr = roc_curve(vy, vs)
    youden = evaluate_scores(y, s, vy, vs, threshold_method="youden", n_bootstrap=0)
    assert youden.chosen.threshold == pytest.approx(thr[np.argmax(tpr - fpr)]) and youden.chosen.method == "youden"
    with pytest.raises(ValueError, match="unknown threshold method"):
        evaluate_scores(y, s, vy, vs, threshold_method="median")


@pytest.mark.parametrize(
    "labels, values, eer, threshold",
    [
        # the ROC passes exactly through FPR = FNR = 0.5 at score 0.4
        ([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8], 0.5, 0.4),
        # FPR - FNR goes from -0.5 (threshold 0.9) to +0.5 (threshold 0.6): halfway is 0.75
        ([0, 1, 1], [0.6, 0.3, 0.9], 0.5, 0.75),
        # a perfect ranking: EER 0 at the lowest fake score
        ([0, 0, 1, 1], [0.1, 0.2, 0.7, 0.9], 0.0, 0.7),
    ],
)
def test_eer_on_hand_computed_examples(labels, values, eer, threshold):
    assert equal_error_rate(labels, values) == pytest.approx((eer, threshold))


def test_eer_crossing_next_to_the_infinite_first_threshold():
    # a tied top score: the ROC jumps from (0, 0) [threshold inf] to FPR 1, TPR 0.5 [threshold 0.9],
    # FPR - FNR from -1 to +0.5, crossing at 2/3 of the way; inf is read as 1.0 (nothing fake)
    labels, values = [0, 1, 1], [0.9, 0.9, 0.1]
    assert not np.isfinite(roc_curve(labels, values)[2][0])
    eer, threshold = equal_error_rate(labels, values)
    assert eer == pytest.approx(2 / 3)
    assert threshold == pytest.approx(1.0 - (2 / 3) * 0.1)
    assert math.isfinite(threshold)


def test_eer_threshold_balances_error_rates_on_many_scores():
    rng = np.random.default_rng(3)
    y = np.r_[np.zeros(2000, int), np.ones(2000, int)]
    s = rng.random(4000) ** np.where(y == 1, 0.5, 2.0)
    eer, thr = equal_error_rate(y, s)
    pred = s >= thr
    fpr = pred[y == 0].mean()
    fnr = 1 - pred[y == 1].mean()
    assert fpr == pytest.approx(eer, abs=2e-3)
    assert fnr == pytest.approx(eer, abs=2e-3)


def test_bootstrap_is_seeded_and_brackets_the_estimate(scores):
    y, s, _, _ = scores
    a = metrics.bootstrap_intervals(y, s, n_bootstrap=100, seed=1)
    b = metrics.bootstrap_intervals(y, s, n_bootstrap=100, seed=1)
    c = metrics.bootstrap_intervals(y, s, n_bootstrap=100, seed=2)
    assert a == b
    assert a != c
    lo, hi = a["auroc"]
    assert lo < roc_auc_score(y, s) < hi
    lo, hi = a["accuracy"]
    assert lo < accuracy_score(y, s >= 0.5) < hi
    report = evaluate_scores(y, s, n_bootstrap=100, seed=1)
    assert report.ci["auroc"] == a["auroc"]


def test_bootstrap_skips_resamples_where_auroc_is_undefined():
    y = np.zeros(20, int)
    s = np.linspace(0, 1, 20)
    ci = metrics.bootstrap_intervals(y, s, n_bootstrap=20, seed=0)
    assert all(math.isnan(v) for v in ci["auroc"])
    assert ci["accuracy"][0] <= 0.5 <= ci["accuracy"][1]


def videos_with_shared_errors(n_videos, frames, seed, mixed=False):
    """Labels, scores and groups where a video's frames share one offset (correlated errors).

    ``mixed``: each group holds a real video and a fake made from it, sharing the offset too.
    """
    rng = np.random.default_rng(seed)
    y, s, g = [], [], []
    for v in range(n_videos):
        shared = rng.normal(0, 0.25)
        for label in (0, 1):
            offset = shared if mixed else rng.normal(0, 0.25)
            y += [label] * frames
            s += list(0.4 + 0.2 * label + offset + rng.normal(0, 0.03, frames))
            g += [f"v{v}" if mixed else f"v{v}-{label}"] * frames
    return np.array(y), np.array(s), np.array(g)


def reference_group_bootstrap(y, s, groups, n_bootstrap, seed):
    """The group bootstrap written out plainly with scikit-learn: strata real-only, fake-only, both."""
    ids = list(dict.fromkeys(groups.tolist()))
    rows = {g: np.flatnonzero(groups == g) for g in ids}
    strata = [[k for k, g in enumerate(ids) if set(y[rows[g]]) == kind] for kind in ({0}, {1}, {0, 1})]
    rng = np.random.default_rng(seed)
    aurocs, accuracies = [], []
    for _ in range(n_bootstrap):
        picked = [k for stratum in strata if stratum for k in rng.choice(stratum, size=len(stratum), replace=True)]
        idx = np.concatenate([rows[ids[k]] for k in picked])
        aurocs.append(roc_auc_score(y[idx], s[idx]))
        accuracies.append(accuracy_score(y[idx], s[idx] >= 0.5))
    return tuple(np.quantile(aurocs, [0.025, 0.975])), tuple(np.quantile(accuracies, [0.025, 0.975]))


def test_group_bootstrap_agrees_with_scikit_learn_per_resample():
    y1, s1, g1 = videos_with_shared_errors(6, 5, seed=1)
    y2, s2, g2 = videos_with_shared_errors(4, 3, seed=2, mixed=True)  # groups holding both classes
    y, s, g = np.r_[y1, y2], np.r_[s1, s2], np.r_["0", g1, np.char.add("m", g2)]
    shuffle = np.random.default_rng(0).permutation(y.size)
    y, s, g = y[shuffle], s[shuffle], g[shuffle]
    ci = metrics.bootstrap_intervals(y, s, n_bootstrap=60, seed=3, groups=g)
    auroc, accuracy = reference_group_bootstrap(y, s, g, 60, seed=3)
    assert ci["auroc"] == pytest.approx(auroc, abs=1e-12)
    assert ci["accuracy"] == pytest.approx(accuracy, abs=1e-12)


def test_singleton_groups_give_exactly_the_frame_bootstrap(scores):
    y, s, vy, vs = scores
    rng = np.random.default_rng(5)  # the frame bootstrap: each class's frames resampled on their own
    by_class = [np.flatnonzero(y == c) for c in (0, 1)]
    aurocs, accuracies = [], []
    for _ in range(80):
        idx = np.concatenate([rng.choice(ix, size=ix.size, replace=True) for ix in by_class])
        aurocs.append(roc_auc_score(y[idx], s[idx]))
        accuracies.append(accuracy_score(y[idx], s[idx] >= 0.5))
    frame = {"auroc": tuple(np.quantile(aurocs, [0.025, 0.975])),
             "accuracy": tuple(np.quantile(accuracies, [0.025, 0.975]))}
    assert metrics.bootstrap_intervals(y, s, n_bootstrap=80, seed=5) == frame
    assert metrics.bootstrap_intervals(y, s, n_bootstrap=80, seed=5, groups=[f"f{i}" for i in range(y.size)]) == frame
    own = evaluate_scores(y, s, vy, vs, groups=np.arange(y.size), n_bootstrap=80, seed=5)
    assert own.ci == evaluate_scores(y, s, vy, vs, n_bootstrap=80, seed=5).ci
    assert (own.bootstrap_unit, own.n_bootstrap_units) == ("group", 200)


def test_group_interval_is_wider_when_frames_within_videos_are_correlated():
    # 12 videos per class x 40 frames; the frames of a video share most of their error
    y, s, g = videos_with_shared_errors(12, 40, seed=0)
    width = {}
    for name, groups in (("frame", None), ("group", g)):
        lo, hi = metrics.bootstrap_intervals(y, s, n_bootstrap=300, seed=0, groups=groups)["auroc"]
        width[name] = hi - lo
    assert width["group"] > 3 * width["frame"]


def test_groups_holding_both_classes_stay_whole():
    # each group: a real video and the fake made from it, with one shared error: resampled together
    y, s, g = videos_with_shared_errors(12, 10, seed=4, mixed=True)
    frame = metrics.bootstrap_intervals(y, s, n_bootstrap=300, seed=0)
    group = metrics.bootstrap_intervals(y, s, n_bootstrap=300, seed=0, groups=g)
    assert group["accuracy"][1] - group["accuracy"][0] > 2 * (frame["accuracy"][1] - frame["accuracy"][0])
    auroc, accuracy = reference_group_bootstrap(y, s, g, 300, seed=0)
    assert group["auroc"] == pytest.approx(auroc, abs=1e-12) and group["accuracy"] == pytest.approx(accuracy, abs=1e-12)
    report = evaluate_scores(y, s, groups=g, videos=np.char.add(g, y.astype(str)), n_bootstrap=50)
    assert (report.n_bootstrap_units, report.n_videos) == (12, 24)
    assert "12 test groups (24 videos), stratified by class composition" in report.to_markdown()
    assert report.summary()["n_bootstrap_units"] == 12 and report.summary()["bootstrap_unit"] == "group"


def test_video_level_auroc_averages_frames_per_video_and_label():
    # group g1 holds a real video and its fake: the two must not be averaged together
    groups = ["g1", "g1", "g1", "g1", "g2", "g2", "g3", "g3"]
    labels = [0, 0, 1, 1, 0, 0, 1, 1]
    values = [0.1, 0.3, 0.6, 0.8, 0.5, 0.7, 0.2, 0.4]
    # units: g1/real 0.2, g1/fake 0.7, g2/real 0.6, g3/fake 0.3
    expected = roc_auc_score([0, 1, 0, 1], [0.2, 0.7, 0.6, 0.3])
    auroc, units = metrics.video_level_auroc(labels, values, groups)
    assert auroc == pytest.approx(expected)
    assert units == 4
    report = evaluate_scores(labels, values, groups=groups, n_bootstrap=0)
    assert report.video_auroc == pytest.approx(expected)
    assert "video-level AUROC" in report.to_markdown()
    # one frame per video: nothing to add over the frame-level AUROC
    assert metrics.video_level_auroc(labels, values, list("abcdefgh")) is None


def test_report_round_trips_through_json(tmp_path, scores):
    y, s, vy, vs = scores
    report = evaluate_scores(y, s, vy, vs, groups=np.arange(200) // 4, n_bootstrap=30)
    path = tmp_path / "sub" / "report.json"
    report.to_json(path)
    data = json.loads(path.read_text())
    assert data["table"]["AUROC"] == {"value": pytest.approx(roc_auc_score(y, s))}
    assert data["table"]["REAL"]["support"] == 120
    assert data["chosen"]["source"] == "validation"
    assert set(data["chosen"]) == {"method", "source", "threshold", "metrics"}
    assert set(data["chosen"]["metrics"]) == {"threshold", "REAL", "FAKE", "accuracy", "confusion"}
    assert set(data["at_study_threshold"]["REAL"]) == {"precision", "recall", "f1-score", "support"}
    back = Report.from_json(path)
    assert back.table.equals(report.table)
    assert back.chosen == report.chosen and back.at_study_threshold == report.at_study_threshold
    assert back.summary() == pytest.approx(report.summary())


def test_markdown_keeps_the_study_shape(scores):
    y, s, vy, vs = scores
    text = evaluate_scores(y, s, vy, vs, n_bootstrap=20).to_markdown(title="baseline")
    assert text.startswith("## baseline")
    for row in ("REAL", "FAKE", "AUROC", "THRESH", "TOTAL ACCURACY"):
        assert f"| {row}" in text
    assert "nan" not in text.split("\n\n")[1]  # empty cells stay empty


def test_study_table_holds_the_published_numbers():
    table = metrics.study_table("baseline")
    assert table.loc["TOTAL ACCURACY", "value"] == 0.839
    assert table.loc["AUROC", "value"] == 0.943
    assert table.loc["THRESH", "value"] == 0.183
    assert tuple(table.loc["FAKE", ["precision", "recall", "f1-score"]]) == (0.92, 0.74, 0.82)
    tk_diff = metrics.study_table("tk_diff")
    assert tk_diff.loc["REAL", "recall"] == 0.60
    assert tk_diff.loc["AUROC", "value"] == 0.782
    both = metrics.side_by_side({"ours": table, "study": tk_diff})
    assert both.loc["AUROC", ("study", "value")] == 0.782
    assert "study: value" in metrics.table_markdown(both)
    with pytest.raises(KeyError, match="arms"):
        metrics.study_table("cp")


@pytest.mark.parametrize(
    "labels, values, message",
    [
        ([0, 1], [0.5], "2 labels but 1 scores"),
        ([0, 2], [0.1, 0.5], "labels must be 0"),
        ([0, 1], [0.1, float("nan")], "NaN"),
        ([1, 1], [0.1, 0.5], "both real and fake"),
    ],
)
def test_bad_input_is_explained(labels, values, message):
    with pytest.raises(ValueError, match=message):
        evaluate_scores(labels, values, n_bootstrap=0)


def test_per_method_auroc_and_recall_agree_with_scikit_learn(scores):
    from sklearn.metrics import recall_score

    y, s, vy, vs = scores
    rng = np.random.default_rng(3)
    methods = np.where(y == 0, "real", rng.choice(["NeuralTextures", "Deepfakes", "FaceSwap"], size=y.size))
    s = np.where(methods == "Deepfakes", np.clip(s + 0.3, 0, 1), s)  # one method is easier to spot
    table = metrics.per_method_metrics(y, s, methods, threshold=0.42)
    assert table["method"].tolist() == ["Deepfakes", "FaceSwap", "NeuralTextures"]
    for row in table.itertuples(index=False):
        keep = (y == 0) | (methods == row.method)
        fake = methods == row.method
        assert row.auroc == pytest.approx(roc_auc_score(y[keep], s[keep]))
        assert row.n_fake == fake.sum() and row.n_real == (y == 0).sum()
        assert row[4] == pytest.approx(recall_score(y[fake], s[fake] >= 0.5))  # recall_at_0.5
        assert row.recall_at_threshold == pytest.approx(recall_score(y[fake], s[fake] >= 0.42))
    assert table.set_index("method").loc["Deepfakes", "auroc"] > table.set_index("method").loc["FaceSwap", "auroc"]

    report = evaluate_scores(y, s, vy, vs, n_bootstrap=0, methods=methods)
    assert [r["method"] for r in report.per_method] == table["method"].tolist()
    assert report.per_method[0]["recall_at_threshold"] == pytest.approx(
        recall_score(y[methods == "Deepfakes"], s[methods == "Deepfakes"] >= report.chosen.threshold))
    assert "Per manipulation method" in report.to_markdown() and "NeuralTextures" in report.to_markdown()
    assert Report.from_dict(json.loads(json.dumps(report.to_dict()))).per_method == report.per_method
    # one method (or none given): nothing per method, the report stays as it was
    single = np.where(y == 0, "real", "fake")
    assert evaluate_scores(y, s, vy, vs, n_bootstrap=0, methods=single).per_method is None
    assert "Per manipulation method" not in evaluate_scores(y, s, n_bootstrap=0).to_markdown()
    with pytest.raises(ValueError, match="3 methods for 200 scores"):
        metrics.per_method_metrics(y, s, ["real", "fake", "fake"])


def test_summary_names_each_accuracy_by_its_threshold(scores):
    y, s, vy, vs = scores
    report = evaluate_scores(y, s, vy, vs, n_bootstrap=30)
    row = report.summary()
    assert not [k for k in row if k == "accuracy" or k.startswith("accuracy_ci")]  # never a bare accuracy
    assert row["accuracy_at_0.5"] == pytest.approx(accuracy_score(y, s >= 0.5))
    assert row["threshold"] == pytest.approx(equal_error_rate(vy, vs)[1])
    assert row["accuracy_at_threshold"] == pytest.approx(accuracy_score(y, s >= row["threshold"]))
    assert (row["accuracy_at_0.5_ci_low"], row["accuracy_at_0.5_ci_high"]) == report.ci["accuracy"]
    at_threshold = (row["accuracy_at_threshold_ci_low"], row["accuracy_at_threshold_ci_high"])
    assert at_threshold == report.ci["accuracy_at_chosen"]
    assert row["accuracy_at_threshold_ci_low"] <= row["accuracy_at_threshold"] <= row["accuracy_at_threshold_ci_high"]
    assert (row["threshold_method"], row["threshold_source"]) == ("eer", "validation")
    assert row["thresh_test_eer"] == pytest.approx(equal_error_rate(y, s)[1])
