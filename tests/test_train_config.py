"""Every option of every training config group composes and builds its objects."""

from __future__ import annotations

import inspect
import os
from pathlib import Path

import lightning as L
import pytest
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import OmegaConf

from obstacles.data import ObstacleDataModule, PairTransform
from obstacles.infra.config import CONF_DIR
from obstacles.models import ObstacleClassifier
from obstacles.runs.lookup import checkpoint_run_dir
from obstacles.runs.reserve import (
    ReserveRunFolder,
    config_subdir,
    job_dir_name,
    register_resolvers,
    reserve_run_dir,
    run_dir,
    run_group,
    run_name,
)
from obstacles.training.job import build_loggers, instantiate_group, train
from tests.helpers.training import train_cfg, write_pair_dataset

pytestmark = pytest.mark.long  # scheduled first (tests/conftest.py)

GROUPS = (
    "data",
    "model",
    "augment",
    "weighting",
    "trainer",
    "callbacks",
    "logger",
    "experiment",
    "hparams_search",
    "debug",
)
OPTIONS = [(group, path.stem) for group in GROUPS for path in sorted((Path(CONF_DIR) / group).glob("*.yaml"))]


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("config")
    write_pair_dataset(root, n_pairs=8, panel=16, eval_every=2)
    return root


def compose_hydra(root, *overrides):
    """The config with its `hydra` node (sweeper, run folders), left unresolved."""
    register_resolvers()
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return compose("train", overrides=[f"paths.root_dir={root}", *overrides], return_hydra_config=True)


def check_built(cfg, group: str) -> None:
    """The object(s) a group configures are what its config says (the trainer only where it runs
    on this machine; elsewhere its settings, as written)."""
    if group in ("data", "weighting"):
        data = instantiate(cfg.data)
        assert isinstance(data, ObstacleDataModule) and data.weighting == cfg.weighting.mode
    elif group == "model":
        model = instantiate(cfg.model)
        assert isinstance(model, ObstacleClassifier) and model.hparams.backbone == cfg.model.backbone
    elif group == "augment":
        assert isinstance(instantiate(cfg.augment), PairTransform)
    elif group in ("callbacks", "logger"):
        nodes = [node for node in (cfg.get(group) or {}).values() if node and "_target_" in node]
        built = instantiate_group(cfg.get(group))
        assert [type(obj).__name__ for obj in built] == [node._target_.rsplit(".", 1)[-1] for node in nodes]
    elif group == "trainer" and cfg.trainer.accelerator != "cpu":  # cannot be built without a GPU
        settings = OmegaConf.to_container(cfg.trainer, resolve=True)
        assert settings.pop("_target_") == "lightning.pytorch.Trainer"
        unknown = set(settings) - set(inspect.signature(L.Trainer).parameters)
        assert not unknown, f"trainer={cfg.trainer}: not Trainer arguments: {sorted(unknown)}"
    else:
        trainer = instantiate(cfg.trainer, logger=False)
        assert isinstance(trainer, L.Trainer) and trainer.max_epochs == cfg.trainer.max_epochs


@pytest.mark.parametrize(("group", "option"), OPTIONS, ids=[f"{g}={o}" for g, o in OPTIONS])
def test_every_option_composes_and_instantiates(root, group, option):
    check_built(train_cfg(root, f"{group}={option}"), group)


EXPERIMENTS = sorted(path.stem for path in (Path(CONF_DIR) / "experiment").glob("*.yaml"))


@pytest.fixture(scope="module")
def root32(tmp_path_factory):
    """A tiny dataset with 32 px panels: the field CNN pools five times."""
    root = tmp_path_factory.mktemp("experiments")
    write_pair_dataset(root, n_pairs=16, panel=32)  # every split holds both classes
    return root


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_every_experiment_trains_one_step_with_its_model_and_data_together(root32, tmp_path, experiment):
    """An experiment is model, data, augmentation and weighting chosen together: they must fit
    each other (channels, panel size, weighting mode), not only compose one by one."""
    cfg = train_cfg(
        root32, f"experiment={experiment}", "logger=none", "+trainer.fast_dev_run=true", output_dir=tmp_path / "run"
    )
    train(cfg)
    assert (tmp_path / "run" / "run.json").is_file(), "the one-step run finished and wrote its record"


def test_defaults_build_the_field_setup(root):
    cfg = train_cfg(root)
    assert isinstance(instantiate(cfg.data), ObstacleDataModule)
    assert isinstance(instantiate(cfg.augment), PairTransform)
    model = instantiate(cfg.model)
    assert isinstance(model, ObstacleClassifier) and model.hparams.backbone == "resnet18"
    optimizer = model.configure_optimizers()
    assert optimizer["optimizer"].defaults["lr"] == 1e-4
    assert optimizer["lr_scheduler"]["scheduler"].step_size == 10
    assert cfg.data.batch_size == 4 and train_cfg(root, "data.batch_size=32").data.batch_size == 32
    assert isinstance(instantiate(cfg.trainer, logger=False), L.Trainer)
    assert [type(c).__name__ for c in instantiate_group(cfg.callbacks)] == [
        "ModelCheckpoint",
        "EarlyStopping",
        "TrainingCurves",
        "SampleGrid",
    ]
    assert cfg.logger.wandb.project == cfg.wandb.project == "obstacles-classification"


def test_optuna_search_maximises_auroc_over_curve_and_lr(root):
    cfg = train_cfg(root, "hparams_search=optuna")
    assert cfg.optimized_metric == "val/auroc"
    sweeper = compose_hydra(root, "hparams_search=optuna").hydra.sweeper
    assert sweeper.direction == "maximize"
    assert {"weights.alfa", "weights.beta", "weights.gamma", "weights.swc", "model.optimizer.lr"} <= set(sweeper.params)


def test_hydra_run_and_sweep_folders_use_the_resolvers(root):
    cfg = compose_hydra(root)
    assert OmegaConf.to_container(cfg.hydra.run)["dir"] == "${run_dir:}"
    assert OmegaConf.to_container(cfg.hydra.sweep)["dir"] == "${sweep_dir:}"


def test_resolving_the_run_folders_makes_nothing_and_sets_no_environment_variable(tmp_path):
    """A notebook that composes `train` and resolves `hydra.run.dir` gets a name only: no folder, no
    lock file, no environment variable, and no check of the dataset (missing here)."""
    experiments = tmp_path / "experiments"
    (experiments / "007.old.thing").mkdir(parents=True)
    environment = dict(os.environ)
    cfg = compose_hydra(tmp_path, "dataset.name=tiny", "run_info=x")
    assert Path(cfg.hydra.run.dir) == experiments / "008.tiny.x"
    assert Path(cfg.hydra.sweep.dir) == experiments / "008.tiny.sweep-x"
    assert [p.name for p in experiments.iterdir()] == ["007.old.thing"]
    assert dict(os.environ) == environment


def test_a_run_or_sweep_reserves_its_folder_as_it_starts(root, tmp_path):
    """The callback reserves the next number and pins the folder in the config, for the run and for
    each job Hydra composes again (as `hydra.sweep.dir=<folder>` would on the command line)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    experiments = tmp_path / "experiments"
    (experiments / "007.old.thing").mkdir(parents=True)
    assert reserve_run_dir(experiments, "tiny", "a/b").name == "008.tiny.a_b"
    at_start = ReserveRunFolder()
    base = ("dataset.name=tiny", f"paths.experiments_dir={experiments}", "run_info=x")
    run = compose_hydra(root, *base)
    at_start.on_run_start(config=run)
    assert run.hydra.run.dir == str(experiments / "009.tiny.x") and Path(run.hydra.run.dir).is_dir()
    sweep = compose_hydra(root, *base)
    at_start.on_multirun_start(config=sweep)
    assert sweep.hydra.sweep.dir == str(experiments / "010.tiny.sweep-x") and Path(sweep.hydra.sweep.dir).is_dir()
    (pinned,) = sweep.hydra.overrides.hydra
    assert OverridesParser.create().parse_override(pinned).value() == sweep.hydra.sweep.dir
    folders = sorted(p.name for p in experiments.iterdir() if p.is_dir())
    at_start.on_run_start(config=compose_hydra(root, *base, f"hydra.run.dir={tmp_path / 'given'}"))
    resumed = compose_hydra(root, *base, f"ckpt_path={experiments / '009.tiny.x' / 'checkpoints' / 'last.ckpt'}")
    at_start.on_run_start(config=resumed)
    assert resumed.hydra.run.dir == str(experiments / "009.tiny.x"), "a resumed run writes into its own folder"
    assert sorted(p.name for p in experiments.iterdir() if p.is_dir()) == folders, "nothing more reserved"
    with pytest.raises(SystemExit, match="no run folder was made"):
        at_start.on_run_start(config=compose_hydra(root, *base, "model.backbone=resnet_nope"))
    assert sorted(p.name for p in experiments.iterdir() if p.is_dir()) == folders


def test_resumed_run_writes_into_the_checkpoints_run(tmp_path):
    run = tmp_path / "experiments" / "003.tiny.x"
    (run / ".hydra").mkdir(parents=True)
    cfg = OmegaConf.create({"ckpt_path": str(run / "checkpoints" / "last.ckpt")})
    assert checkpoint_run_dir(cfg.ckpt_path) == run and run_dir(_root_=cfg) == str(run)
    assert config_subdir(_root_=cfg) == ".hydra/resume-1"
    assert config_subdir(_root_=OmegaConf.create({"ckpt_path": None})) == ".hydra"


def test_wandb_name_and_group_come_from_the_folder(tmp_path):
    experiments = tmp_path / "experiments"
    job = experiments / "004.tiny.sweep-x" / "1.weights.alfa=-2.0"
    assert run_name(str(job), str(experiments)) == "004.tiny.sweep-x/1.weights.alfa=-2.0"
    assert run_group(str(job), str(experiments)) == "004.tiny.sweep-x"
    assert run_group(str(experiments / "005.tiny.y"), str(experiments)) == "005.tiny.y"


def test_a_sweep_jobs_checkpoint_path_pastes_unquoted_into_the_command_line(tmp_path):
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser = OverridesParser.create()
    long = ",".join(f"weights.key_{i}=0.123456789" for i in range(20))
    for number, overrides in enumerate(
        [
            "seed=1,weights.alfa=-5.0",
            "model.optimizer.lr=3.5e-05",
            long,
            "model.weights_path=/a/b c.pt,data.panel_size=96",
        ]
    ):
        path = f"{tmp_path}/experiments/001.tiny.sweep-x/{job_dir_name(number, overrides)}/checkpoints/last.ckpt"
        assert parser.parse_override(f"ckpt_path={path}").value() == path


def test_sweep_job_folders_stay_short_and_path_safe():
    assert job_dir_name(0, "weights.alfa=-2.0,weights.gamma=4") == "0.weights.alfa_-2.0+weights.gamma_4"
    assert job_dir_name(1, "model.optimizer.lr=3.509014885796851e-05") == "1.model.optimizer.lr_3.509e-05"
    assert job_dir_name(2, "model.weights_path=/a/b.pt") == "2.model.weights_path__a_b.pt"
    long = ",".join(f"weights.key_{i}=0.123456789" for i in range(20))
    name = job_dir_name(3, long)
    assert len(name) < 170 and name != job_dir_name(3, long.replace("0.123456789", "0.9"))


def test_the_wandb_group_sets_the_training_logger_and_can_turn_it_off(root):
    cfg = train_cfg(root, "wandb.project=elsewhere", "wandb.mode=disabled")
    (logger,) = build_loggers(cfg)
    assert type(logger).__name__ == "WandbLogger" and logger._wandb_init["project"] == "elsewhere"
    assert logger._wandb_init["mode"] == "disabled" and logger._wandb_init["job_type"] == "train"
    assert build_loggers(train_cfg(root, "wandb.enabled=false")) == []
    kept = build_loggers(train_cfg(root, "wandb.enabled=false", "logger=csv"))
    assert [type(logger).__name__ for logger in kept] == ["CSVLogger"], "other loggers stay"


def test_wandb_keeps_its_home_files_inside_the_project(tmp_path, monkeypatch):
    """Issue 21 item 9: W&B wrote into ~/.cache/wandb (and ~/.config/wandb) even offline."""
    from obstacles.infra.config import compose
    from obstacles.infra.tracking import WANDB_HOME_VARIABLES, keep_wandb_home_inside, wandb_run

    for variable in WANDB_HOME_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("OBSTACLES_ROOT", str(tmp_path / "project"))
    logger = compose("thresholds", ["predictions=p.csv"]).wandb
    assert logger.home_dir == f"{tmp_path / 'project'}/.cache/wandb"
    with wandb_run(logger, tmp_path / "project" / "run", run_id=None, name="t", config={}) as (run, _):
        run.log({"x": 1})
    for variable, folder in WANDB_HOME_VARIABLES.items():
        assert os.environ[variable] == str(tmp_path / "project" / ".cache" / "wandb" / folder)
    assert not (tmp_path / "home").exists(), "nothing written in the user's home"
    monkeypatch.setenv("WANDB_CACHE_DIR", "/elsewhere")
    keep_wandb_home_inside(tmp_path / "x")
    assert os.environ["WANDB_CACHE_DIR"] == "/elsewhere", "the environment wins"
