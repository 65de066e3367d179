"""The field's browsable folders over a derivative's manifest: `python -m obstacles.commands.folder_view
[view=balanced|src|mask_train|split] [site=<id>]`.

Thin entry point over `obstacles.lineage.views` (config: conf/folder_view.yaml): hard links under
views/<dataset>/ (balanced) or views/<site>/<view>/, rebuilt whole, not versioned.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig

from obstacles.infra.config import entry_point
from obstacles.lineage.settings import site_dir, site_name
from obstacles.lineage.views import VIEWS, write_view


def run(cfg: DictConfig) -> Path:
    view = str(cfg.view)
    if view not in VIEWS:
        raise SystemExit(f"view={view!r}: choose one of {', '.join(VIEWS)}")
    spec = VIEWS[view]
    if spec.per_site:  # only a site's view needs site=<id>
        owner_dir, owner = site_dir(cfg), site_name(cfg)
    else:
        owner_dir, owner = Path(cfg.dataset.dir), str(cfg.dataset.name)
    manifest, final = spec.manifest(owner_dir), spec.folder(Path(cfg.out_dir), owner)
    count = write_view(spec, manifest, final, Path(cfg.paths.root_dir))
    print(f"[folder_view {view}] {count} file(s) linked under {final} (from {manifest}; not versioned)")
    return final


main = entry_point("folder_view", run)

if __name__ == "__main__":
    main()
