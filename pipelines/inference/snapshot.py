"""The array-level ingest pipeline: validated snapshot -> indicators + diagnosis.

No database, no I/O: the service decodes the body, calls :func:`validate_snapshot` (to answer
422 with a readable message) and :func:`analyse_snapshot`, then stores the result.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from models.family_head import FAMILY_CLASSES, two_stage_labels
from pipelines.dsp.indicators import condition_indicators
from pipelines.features.defect_orders import FAMILIES, defect_order_inputs, prominence_db
from pipelines.features.inputs import model_inputs
from pipelines.features.spec import InputSpec
from pipelines.inference.shaft import ShaftContext, resolve_speed


class ProbabilisticClassifier(Protocol):
    """What :func:`analyse_snapshot` needs of a model (``models.checkpoint.Classifier`` fits)."""

    classes: list[str]
    input_spec_dict: dict

    def predict_proba(self, inputs: np.ndarray) -> np.ndarray:
        """(B, *input_shape) -> (B, n_classes) probabilities."""
        ...


@dataclass
class SnapshotAnalysis:
    """Everything computed from one snapshot; arrays are indexed by channel, then class."""

    indicators: dict[str, np.ndarray]  # name -> (C,)
    probabilities: np.ndarray  # (n_classes,): mean softmax over every window of every channel
    per_channel_probabilities: np.ndarray  # (C, n_classes)
    label: str  # the class of highest mean probability
    score: float  # 1 - p(normal): the probability of any fault (max prob without "normal")
    n_windows: int  # model inputs in the batch (all channels)
    classes: list[str] = field(default_factory=list)
    channel_names: list[str] = field(default_factory=list)
    model_inputs: np.ndarray | None = field(default=None, repr=False)  # only with keep_inputs
    # Defect-order models: geometry (registered | assumed), speed (given | estimated), band,
    # family prominences, fault family ("unknown" when the geometry is assumed), warnings.
    diagnosis: dict = field(default_factory=dict)


def validate_snapshot(x: np.ndarray, fs_hz: float, spec: InputSpec, max_fs_hz: float = 1e6,
                      channel_names: list[str] | None = None) -> None:
    """Raise ``ValueError`` with a message naming the problem if the model cannot analyse ``x``
    ((channels, samples) at ``fs_hz``); return None when it can."""
    x = np.asarray(x)
    if x.size == 0:
        raise ValueError(f"the snapshot is empty: shape {x.shape} (channels, samples)")
    if x.ndim != 2:
        raise ValueError(f"expected a 2-D (channels, samples) array, got shape {x.shape}")
    if not np.issubdtype(x.dtype, np.number) or np.iscomplexobj(x):
        raise ValueError(f"samples must be real numbers, got dtype {x.dtype}")
    # A float64 sum per channel is finite iff every sample is (float32 sums cannot overflow
    # it), and costs one read of the data with no (C, N) boolean temporary.
    sums = x.sum(axis=1, dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(sums))
    if bad.size:
        c = int(bad[0])
        name = f" ({channel_names[c]!r})" if channel_names and c < len(channel_names) else ""
        n_bad = int((~np.isfinite(x[c])).sum())
        raise ValueError(f"channel {c}{name} has {n_bad} non-finite values (NaN or Inf)")
    if not 0 < fs_hz <= max_fs_hz:  # also false for NaN
        raise ValueError(f"sample_rate_hz must be > 0 and <= {max_fs_hz:g}, got {fs_hz:g}")
    if fs_hz / 2 <= spec.max_freq_hz:
        raise ValueError(
            f"sample rate {fs_hz:g} Hz is too low for the model's frequency grid (0-"
            f"{spec.max_freq_hz:.0f} Hz needs more than {2 * spec.max_freq_hz:.0f} Hz)"
        )
    need = spec.min_samples(fs_hz)
    if x.shape[1] < need:
        raise ValueError(
            f"{x.shape[1]} samples is less than one analysis window: the model needs "
            f"{spec.window_s:.3f} s, i.e. at least {need} samples at {fs_hz:g} Hz"
        )


def defect_order_diagnosis(x: np.ndarray, fs_hz: float, spec: InputSpec, ctx: ShaftContext
                           ) -> tuple[np.ndarray, np.ndarray, dict]:
    """Defect-order model inputs of a snapshot and what they rest on (see ``SnapshotAnalysis``)."""
    speed = resolve_speed(x, fs_hz, ctx)
    inputs, ch, used = defect_order_inputs(x, fs_hz, spec, speed.shaft_hz, ctx.orders())
    per_window, unit = prominence_db(inputs, spec)
    prominence = per_window.mean(axis=0)
    warnings = list(speed.warnings)
    rpm = speed.shaft_hz * 60.0 / ctx.shaft_speed_ratio
    scales = used["speed_scales"]
    moved = scales != 1.0
    comb_rpm = float(rpm * np.median(scales[moved])) if moved.any() else None
    if comb_rpm is not None:
        warnings.append(
            f"the bearing's defect combs line up at {comb_rpm:.0f} rpm, {comb_rpm / rpm - 1:+.0%} "
            f"from the {speed.source} {rpm:.0f} rpm, in {int(moved.sum())} of {len(scales)} "
            "windows: those windows were read at the combs' speed")
    if ctx.geometry == "assumed":
        warnings.append("no bearing geometry registered for this sensor: defect orders of the "
                        "default bearing were assumed, so a fault family is not named")
    info = {
        "geometry": ctx.geometry, "defect_orders": {k: round(v, 4) for k, v in ctx.orders().items()},
        "speed_source": speed.source, "rpm": rpm, "defect_comb_rpm": comb_rpm,
        "shaft_hz": speed.shaft_hz, "comb_rpm": None if speed.comb_hz is None
        else speed.comb_hz * 60.0 / ctx.shaft_speed_ratio,
        "speed_confidence_db": speed.confidence_db, "band_hz": list(used["band_hz"]),
        "window_s": used["window_s"],
        "family_prominence": {f: round(float(v), 3) for f, v in zip(FAMILIES, prominence, strict=True)},
        "prominence_unit": unit,
        "warnings": warnings,
    }
    return inputs, ch, info


def snapshot_inputs(x: np.ndarray, fs_hz: float, spec: InputSpec, shaft: ShaftContext | None = None
                    ) -> tuple[np.ndarray, np.ndarray, dict]:
    """Model inputs of a (C, N) snapshot, the channel index of each input, and (defect-order
    models) what the diagnosis rests on; the part of the analysis before the model runs."""
    if spec.kind == "defect_orders":
        return defect_order_diagnosis(x, fs_hz, spec, shaft or ShaftContext())
    inputs, ch = model_inputs(x, fs_hz, spec)
    return inputs, ch, {}


@dataclass
class Verdict:
    """Window probabilities reduced to a snapshot's verdict (see ``SnapshotAnalysis``)."""

    probabilities: np.ndarray
    per_channel_probabilities: np.ndarray
    label: str
    score: float
    diagnosis: dict


def summarise(proba: np.ndarray, ch: np.ndarray, n_channels: int, classes: list[str],
              diagnosis: dict, two_stage: bool = False) -> Verdict:
    """Means of the window softmax outputs, per channel and over all windows; the label of
    highest mean probability (``two_stage``, family models with fixed detection: detection,
    then diagnosis, see ``two_stage_labels``); score = 1 - p(normal). ``diagnosis`` gains the
    fault family."""
    proba = np.asarray(proba, dtype=np.float64)
    if proba.shape != (len(ch), len(classes)):
        want = (len(ch), len(classes))
        raise ValueError(f"classifier returned probabilities of shape {proba.shape}, not {want}")
    onehot = (ch[None, :] == np.arange(n_channels)[:, None]).astype(np.float64)  # (C, B)
    per_channel = (onehot @ proba) / np.maximum(onehot.sum(axis=1, keepdims=True), 1.0)
    mean = proba.mean(axis=0)
    score = 1.0 - float(mean[classes.index("normal")]) if "normal" in classes else float(mean.max())
    label = classes[int(np.argmax(mean))]
    if two_stage and classes == list(FAMILY_CLASSES):
        label = classes[int(two_stage_labels(mean))]
    if diagnosis:
        known = diagnosis["geometry"] == "registered"
        diagnosis["fault_family"] = label if label == "normal" or known else "unknown"
    return Verdict(mean, per_channel, label, score, diagnosis)


def analyse_snapshot(x: np.ndarray, fs_hz: float, classifier: ProbabilisticClassifier,
                     accel_to_m_s2: float = 9.80665, channel_names: list[str] | None = None,
                     keep_inputs: bool = False, shaft: ShaftContext | None = None
                     ) -> SnapshotAnalysis:
    """Indicators for every channel and ONE batched ``predict_proba`` over all their windows.

    ``x`` is (C, N) at ``fs_hz`` (validate it first); ``accel_to_m_s2`` is 9.80665 for data in
    g, 1.0 for m/s^2. Probabilities are means of the window softmax outputs: per channel and
    over all windows of all channels.
    """
    x = np.asarray(x, dtype=np.float32)
    spec = InputSpec.from_dict(classifier.input_spec_dict)
    classes = list(classifier.classes)
    indicators = condition_indicators(x, fs_hz, accel_to_m_s2)
    inputs, ch, diagnosis = snapshot_inputs(x, fs_hz, spec, shaft)
    proba = np.asarray(classifier.predict_proba(inputs), dtype=np.float64)  # (B, K)
    n_ch = x.shape[0]
    v = summarise(proba, ch, n_ch, classes, diagnosis,
                  two_stage=bool(getattr(classifier, "two_stage", False)))
    return SnapshotAnalysis(
        indicators=indicators, probabilities=v.probabilities,
        per_channel_probabilities=v.per_channel_probabilities, label=v.label, score=v.score,
        n_windows=len(inputs), classes=classes,
        channel_names=list(channel_names) if channel_names else [f"ch{i}" for i in range(n_ch)],
        model_inputs=inputs if keep_inputs else None, diagnosis=v.diagnosis,
    )
