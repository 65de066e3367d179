"""What a run folder holds, named once: every tool that writes or reads a run spells its folders and
files from here (experiments/README.md draws the tree).

    experiments/NNN.<dataset>.<info>/        a run (a sweep's jobs one level deeper)
        checkpoints/best*.ckpt, last*.ckpt
        .hydra/config.yaml                   the composed training config
        run.json                             the completion record (written last)
        eval/                                evaluation, thresholds and the champion comparison
"""

from __future__ import annotations

import re

RUN_NUMBER = re.compile(r"^(\d{3,})\.")  # NNN. at the start of a run folder's name
LOCK_NAME = ".run_number.lock"  # in experiments/: serialises reserving the next number
CHECKPOINTS_DIR = "checkpoints"
PREFERRED_CHECKPOINTS = ("best*.ckpt", "last*.ckpt")  # the checkpoint a run stands for, in order
CONFIG_DIR = ".hydra"  # Hydra's own folder name (a resumed run adds .hydra/resume-<k>/)
CONFIG_FILE = "config.yaml"  # the composed config, in .hydra/ and in each .hydra/resume-<k>/
RUN_CONFIG = f"{CONFIG_DIR}/{CONFIG_FILE}"
HYDRA_FILE = "hydra.yaml"
OVERRIDES_FILE = "overrides.yaml"
RUN_RECORD = "run.json"

EVAL_DIR = "eval"  # evaluation's default out_dir inside a run
PREDICTIONS_FILE = "predictions.csv"
METRICS_FILE = "metrics.json"  # numbers only: what `dvc metrics show/diff` and `dvc exp show` compare
METRICS_PROVENANCE_FILE = "metrics.provenance.json"  # what was evaluated on what (not a DVC metric)
THRESHOLDS_FILE = "thresholds.json"  # numbers only, like metrics.json
THRESHOLDS_PROVENANCE_FILE = "thresholds.provenance.json"
CHAMPION_DIR = "champion"  # inside the evaluation folder
CHAMPION_FILE = "champion.json"  # numbers only
CHAMPION_PROVENANCE_FILE = "champion.provenance.json"
