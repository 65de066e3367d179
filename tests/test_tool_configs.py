"""Every tool's config (each `conf/*.yaml` but training's) takes its Hydra settings from the one
block, conf/hydra/tool.yaml: run where it is started, no .hydra/ folder, no log file."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from obstacles.infra.config import CONF_DIR

TRAINING = "train"  # its run folders are conf/hydra/default.yaml
TOOLS = sorted(p.stem for p in Path(CONF_DIR).glob("*.yaml") if p.stem not in (TRAINING, "sites"))


@pytest.mark.parametrize("name", TOOLS)
def test_every_tool_config_uses_the_one_hydra_tool_block(name):
    text = (Path(CONF_DIR) / f"{name}.yaml").read_text()
    assert "\nhydra:" not in text and "override hydra/" not in text, "no pasted Hydra block"
    overrides = ["site=plant_202209_01"] if "site: ???" in text else []
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = compose(name, overrides=overrides, return_hydra_config=True)
    assert cfg.hydra.run.dir == "." and cfg.hydra.output_subdir is None and cfg.hydra.job.chdir is False
    for logging in (cfg.hydra.job_logging, cfg.hydra.hydra_logging):
        assert not logging.get("handlers"), "Hydra's own logging off: no log file"
