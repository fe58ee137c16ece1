"""What the defect-family models share: one evidence score per bearing family, from ONE scorer
applied to every family's plane of the input (weights shared across families), turned into
class logits.

Sharing the scorer is the point: the network cannot learn "an outer-race fault of rig X looks
like this"; it can only learn what a defect family's comb of harmonics and sidebands looks like
against the snapshot's own null probes, and then it finds that comb at whatever orders the
bearing's geometry puts it. A fixed rule term (mean of the three largest-harmonic readings, as
an analyst's envelope rule reads them) is added to the learnt evidence, with a learnt weight, so
the model starts from the physics and learns bounded corrections (``EVIDENCE_BOUND``).

Input layout (see ``pipelines.features.defect_orders``): (B, F=5, R=6, L) with families
(FTF, BPFO, BPFI, BSF, SHAFT), rows (sidebands -2..+2 shaft orders, then the shaft-coincidence
mask), cells u = (j + 1) / cells_per_unit multiples of the family's defect order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import numpy as np
import torch
from torch import nn

FAMILY_INDEX = {"FTF": 0, "BPFO": 1, "BPFI": 2, "BSF": 3, "SHAFT": 4}
FAMILY_CLASSES = ("normal", "inner_race", "outer_race", "ball")  # the head's outputs, in order
CENTRE_ROW = 2
INPUT_SCALE = 0.1  # standardised cells arrive x3 (pipelines' Z_SCALE); bring them near unit range
# The evidence gate: no fault is named without its comb. Below ``gate_z`` input units (the
# strongest race/ball rule reading; one unit is 6 dB above the envelope spectrum's floor for
# current inputs, a robust standard score for old ones) every fault logit is lowered by
# GATE_SLOPE per unit. Fixed, not learnt: two training rigs are too few to learn how little
# evidence is enough, and off their distribution (another machine, a wrong speed, assumed
# geometry) the learnt part alone was seen naming faults on flat envelope spectra.
GATE_Z = 1.0  # 6 dB: healthy windows of both rigs stay below (99th percentile 5.5 dB)
LEGACY_GATE_Z = 1.5  # checkpoints whose inputs are standardised per snapshot
# The learnt evidence may move each family's logit by at most this much (tanh-bounded) around
# the rule's reading, so it decides between families whose combs are about equally strong and
# never overrules a clear one: as the rule's weight is at least 1, a family whose reading leads
# every other by more than 2 x EVIDENCE_BOUND units (3 dB at 0.25) keeps the rule's call.
# Measured (family1d, 2000 steps, leave-one-rig-out CWRU -> UESTC / UESTC -> CWRU macro-F1):
# unbounded 0.28 / 0.14, 1.5: 0.681 / 0.427, 0.5: 0.689 / 0.437 (seed 0, before the speed
# search). With it, CWRU -> UESTC over seeds 0 / 1 / 2: 0.638 / 0.715 / 0.712 at 0.5 (seed 0
# named 47 % of UESTC's inner-race windows "ball", their 2 x BSF line being BPFI - 1 x shaft),
# 0.696 / 0.716 / 0.714 at 0.25, the 6-dB rule 0.716; UESTC -> CWRU 0.441 for all. On 240
# simulated machines of random geometry, speed and rate (three seeds) 0.937-0.958 at 1.5 and
# 0.958-0.971 at 0.5, the rule 0.970-0.992. Learnt authority over a comb that leads did not
# carry to machines never seen; it fitted the training rig (leave-one-load-out 0.60 / 0.58 /
# 0.67 at 1.5, seed 0 before the search; with it, seeds 0-2: 0.486-0.496 / 0.579 / 0.567-0.581
# at 0.5, 0.476 / 0.579 / 0.553 at 0.25, the 6-dB rule's own figures).
EVIDENCE_BOUND = 0.25
LEGACY_EVIDENCE_BOUND = 1.5  # checkpoints saved before the bound was an option
GATE_SLOPE = 3.0
# No prior per fault family: a learnt bias per family is the training rigs' base rates (CWRU's
# weak ball combs taught +1.2 logits for "ball" over "inner race"), and on another machine it
# turns a near-tie into the training rig's favourite. Without it, which family is named rests
# on the comb evidence alone. Leave-one-rig-out macro-F1 (seed 0, family1d, 2000 steps):
# CWRU -> UESTC 0.375 with priors, 0.587 without; UESTC -> CWRU 0.472 / 0.477; on the training
# rig (CWRU leave-one-load-out) it costs 0.01-0.04.



@dataclass
class HeadOptions:
    """The family head's options, shared by every family architecture's config."""

    # Per-fault-family logit biases (old checkpoints only; see the note above).
    family_priors: bool = False
    # The evidence gate in input units (one unit is 6 dB for current inputs).
    gate_z: float = GATE_Z
    # Fixed comb detection, learnt family choice (see ``FamilyHead``).
    fixed_detection: bool = True
    # How far (logits) the learnt evidence may move a family around the rule's reading.
    evidence_bound: float = EVIDENCE_BOUND


# What a family checkpoint saved before each option existed was trained with (per key).
LEGACY_HEAD_OPTIONS = {"family_priors": True, "gate_z": LEGACY_GATE_Z, "fixed_detection": False,
                       "evidence_bound": LEGACY_EVIDENCE_BOUND}

def harmonic_windows(n_cells: int, cells_per_unit: int, harmonics: tuple[int, ...],
                     tol: float = 0.02) -> torch.Tensor:
    """(len(harmonics), n_cells) bool: cells within +-tol (at least half a cell) of harmonic h."""
    u = (torch.arange(n_cells, dtype=torch.float32) + 1.0) / cells_per_unit
    h = torch.tensor(harmonics, dtype=torch.float32)[:, None]
    return (u[None, :] - h).abs() <= torch.clamp(tol * h, min=0.5 / cells_per_unit) + 1e-6


RACE_HARMONICS = (1, 2, 3)
BALL_HARMONICS = (2, 4, 6)  # the BSF family's even harmonics: 2 x BSF, the ball's impacts


def rule_windows(n_cells: int, cells_per_unit: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The harmonic windows the envelope rule reads: (race families, BSF family)."""
    return (harmonic_windows(n_cells, cells_per_unit, RACE_HARMONICS),
            harmonic_windows(n_cells, cells_per_unit, BALL_HARMONICS))


def rule_readings(x: torch.Tensor, race_win: torch.Tensor, ball_win: torch.Tensor
                  ) -> torch.Tensor:
    """(B, F, R, L) -> (B, F): the envelope rule's reading of each family, in the input's
    units: the mean over harmonics 1-3 (BSF: 2, 4, 6, i.e. 2 x BSF) of the largest centre-row
    cell within +-2 % of each harmonic."""
    centre = x[:, :, CENTRE_ROW]  # (B, F, L)
    neg = torch.finfo(x.dtype).min

    def read(win: torch.Tensor) -> torch.Tensor:
        return torch.where(win[None, None], centre[:, :, None, :], neg).amax(-1).mean(-1)

    race, ball = read(race_win), read(ball_win)
    is_bsf = torch.arange(x.shape[1], device=x.device) == FAMILY_INDEX["BSF"]
    return torch.where(is_bsf, ball, race)


class FamilyHead(nn.Module):
    """Evidence per family (B, F) + rule term -> logits (normal, inner_race, outer_race, ball).

    Ball: the BSF family, whose even harmonics are the 2 x BSF impacts (rule term on 2, 4, 6).

    ``fixed_detection`` (current models): two stages in one output. Whether any fault comb is
    present is FIXED physics, p(fault) = sigmoid(GATE_SLOPE * (strongest - gate_z)) on the
    strongest race/ball rule reading (6 dB above the envelope floor is even odds); the network
    only chooses WHICH family, p(family | fault) = softmax of the family evidence. A learnt
    normal/fault boundary is the training rigs' boundary: CWRU's one, very quiet healthy
    recording beside its comb-less ball faults taught "fault" from about 1 dB, and on UESTC
    that called half the healthy windows "ball".
    Legacy checkpoints: normal is a learnt non-increasing function of the strongest reading and
    the fault logits are lowered below ``gate_z``.
    """

    def __init__(self, n_cells: int, cells_per_unit: int, options: HeadOptions | None = None):
        super().__init__()
        options = options or HeadOptions()
        self.family_priors = options.family_priors  # True only for checkpoints trained with them
        self.gate_z = options.gate_z
        self.fixed_detection = options.fixed_detection
        if not options.evidence_bound > 0:
            raise ValueError(f"evidence_bound must be > 0, got {options.evidence_bound}")
        self.evidence_bound = float(options.evidence_bound)
        race_win, ball_win = rule_windows(n_cells, cells_per_unit)
        self.register_buffer("race_win", race_win)
        self.register_buffer("ball_win", ball_win)
        self.rule_weight = nn.Parameter(torch.tensor(1.0))
        # normal = normal_bias - softplus(normal_slope) * strongest: more comb evidence can
        # never make "normal" more likely (a free slope learnt the opposite on UESTC's healthy
        # shaft lines and then called clear simulated faults normal).
        # (normal_bias, normal_slope and bias serve legacy heads only; fixed detection has no
        # learnt normal, but keeps them so that every checkpoint's state dict loads.)
        self.normal_bias = nn.Parameter(torch.tensor(0.0))
        self.normal_slope = nn.Parameter(torch.tensor(0.5))
        self.bias = nn.Parameter(torch.zeros(4))

    def rule(self, x: torch.Tensor) -> torch.Tensor:
        """(B, F, R, L) -> (B, F) rule readings (see ``rule_readings``), scaled to unit range."""
        race_win, ball_win = cast(torch.Tensor, self.race_win), cast(torch.Tensor, self.ball_win)
        return rule_readings(x, race_win, ball_win) * (INPUT_SCALE / 0.3)

    def forward(self, x: torch.Tensor, evidence: torch.Tensor) -> torch.Tensor:
        """x (B, F, R, L) inputs, evidence (B, F) from the shared scorer -> (B, 4) logits."""
        r = self.rule(x)
        bound = self.evidence_bound
        e = (1.0 + nn.functional.softplus(self.rule_weight)) * r + bound * torch.tanh(
            evidence / bound)
        strongest = r[:, [FAMILY_INDEX["BPFO"], FAMILY_INDEX["BPFI"], FAMILY_INDEX["BSF"]]].amax(1)
        families = torch.stack([e[:, FAMILY_INDEX["BPFI"]], e[:, FAMILY_INDEX["BPFO"]],
                                e[:, FAMILY_INDEX["BSF"]]], dim=1)
        if self.fixed_detection:
            # softmax([logsumexp(e), e_f + m]) = [sigmoid(-m), sigmoid(m) * softmax(e)_f]: the
            # two stages exactly, written as logits that do not saturate, so a fault's logit
            # (and its attribution) reads its own family's plane and the comb detection.
            margin = GATE_SLOPE * (strongest - self.gate_z)
            normal = torch.logsumexp(families, dim=1, keepdim=True)
            return torch.cat([normal, families + margin[:, None]], dim=1)
        normal = self.normal_bias - nn.functional.softplus(self.normal_slope) * strongest
        gate = GATE_SLOPE * torch.relu(self.gate_z - strongest)
        faults = families - gate[:, None]
        bias = self.bias if self.family_priors else torch.cat(
            [self.bias[:1], torch.zeros_like(self.bias[1:])])
        return torch.cat([normal[:, None], faults], dim=1) + bias


def decides_in_two_stages(model: nn.Module) -> bool:
    """True for a family model with fixed detection, whose p(normal) IS the detection stage
    (legacy heads learnt p(normal) inside a 4-way softmax: their label stays the argmax)."""
    head = getattr(model, "head", None)
    return isinstance(head, FamilyHead) and head.fixed_detection


def two_stage_labels(proba: np.ndarray) -> np.ndarray:
    """(..., 4) probabilities (normal, inner_race, outer_race, ball) -> class indices (...):
    the two stages as an analyst decides them. ``normal`` where p(normal) >= 0.5 (no comb
    detected), else the most probable fault family.

    Not the plain argmax: when a comb is detected but its family is uncertain (p(fault) 0.53
    split 0.46 / 0.04 / 0.03 on CWRU's 0.014" inner race at 2 HP), the argmax calls the
    detected fault normal."""
    p = np.asarray(proba)
    return np.where(p[..., 0] >= 0.5, 0, 1 + p[..., 1:].argmax(-1))


def pooled_features(h: torch.Tensor, cells_per_unit: int) -> torch.Tensor:
    """(N, C, L) scorer maps -> (N, 3C): max and mean near harmonics 1-4, mean elsewhere."""
    n_cells = h.shape[-1]
    u = (torch.arange(n_cells, device=h.device, dtype=torch.float32) + 1.0) / cells_per_unit
    near = ((u - u.round()).abs() <= 2.0 / cells_per_unit) & (u.round() >= 1) & (u.round() <= 4)
    return torch.cat([h[..., near].amax(-1), h[..., near].mean(-1), h[..., ~near].mean(-1)], 1)
