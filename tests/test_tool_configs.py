"""Every tool's config (each `conf/*.yaml` but training's) takes its Hydra settings from the one
block, conf/hydra/tool.yaml: run where it is started, no .hydra/ folder, no log file, and a --help
that shows the tool's own settings."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from obstacles.infra.config import CONF_DIR, SCHEMA_MODULES, register_schemas, tool_settings

TRAINING = "train"  # its run folders are conf/hydra/default.yaml
TOOLS = sorted(p.stem for p in Path(CONF_DIR).glob("*.yaml") if p.stem not in (TRAINING, "sites"))


@pytest.mark.parametrize("name", TOOLS)
def test_every_tool_config_uses_the_one_hydra_tool_block(name):
    text = (Path(CONF_DIR) / f"{name}.yaml").read_text()
    assert "\nhydra:" not in text and "override hydra/" not in text, "no pasted Hydra block"
    overrides = ["site=plant_202209_01"] if "site: ???" in text else []
    register_schemas(name)
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = compose(name, overrides=overrides, return_hydra_config=True)
    assert cfg.hydra.run.dir == "." and cfg.hydra.output_subdir is None and cfg.hydra.job.chdir is False
    for logging in (cfg.hydra.job_logging, cfg.hydra.hydra_logging):
        assert not logging.get("handlers"), "Hydra's own logging off: no log file"


def test_help_shows_the_tools_own_settings_not_every_config_group():
    done = subprocess.run(
        [sys.executable, "-m", "obstacles.commands.thresholds", "--help"], capture_output=True, text=True, check=True
    )
    for own in ("predictions:", "max_missed:", "max_false_alarm:", "sibling_files:", "job_type: thresholds"):
        assert own in done.stdout
    for group in ("augment", "trainer", "weighting", "callbacks", "Configuration groups"):
        assert group not in done.stdout, f"{group} is training's, not the threshold search's"


# The least each curation or export command line needs; audit's is the DVC stage's (pipelines/audit/dvc.yaml).
SETTINGS_OVERRIDES = {
    "export": [],
    "audit": ["ckpt_path=experiments/000.demo_balanced.demo"],
    "data_map": [],
    "label_issues": [],
    "similar": ["image=query.jpg", "search_dir=searched"],
    "review": ["site=plant_202209_01"],
}


@pytest.mark.parametrize("name", sorted(SETTINGS_OVERRIDES))
def test_the_tool_reads_its_own_schema_filled_by_its_yaml(name):
    settings = tool_settings(name, SETTINGS_OVERRIDES[name])
    assert type(settings).__module__ == SCHEMA_MODULES[name]
    if hasattr(settings, "embedder"):  # an instantiable node, left to the entry point
        assert settings.embedder["_target_"].startswith("obstacles.curation.embedding.")


def test_the_curation_and_export_schemas_import_no_model_code():
    """Hydra imports a schema module to compose the config: torch and the like wait for the tool."""
    modules = ", ".join(sorted({SCHEMA_MODULES[name] for name in SETTINGS_OVERRIDES}))
    check = f"import sys, {modules}; print(sorted({{'torch', 'timm', 'onnx', 'matplotlib'}} & set(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_compare_and_champion_take_the_evaluate_and_thresholds_settings_from_those_tools_configs():
    """One place for each tool's settings: compare and champion compose conf/evaluate.yaml and
    conf/thresholds.yaml into their own sections, typed by those tools' schemas."""
    searched = tool_settings("thresholds", ["predictions=predictions.csv"])
    compare = tool_settings("compare", ["evaluation.evaluate.eval.device=cpu", "evaluation.thresholds.confidence=0.9"])
    assert compare.evaluation.evaluate.eval.device == "cpu" and compare.evaluation.thresholds.confidence == 0.9
    assert compare.evaluation.thresholds.predictions is None, "set per compared run"
    assert compare.evaluation.thresholds.limits == searched.limits
    champion = tool_settings("champion", ["challenger=predictions.csv", "deployment.max_missed=0.02"])
    assert champion.deployment.max_missed == 0.02
    assert champion.deployment.max_false_alarm == searched.limits.max_false_alarm
    assert (champion.deployment.confidence, champion.deployment.decimals, champion.deployment.epsilon) == (
        searched.confidence,
        searched.rounding.decimals,
        searched.rounding.epsilon,
    )
