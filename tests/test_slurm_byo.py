"""A model of your own (`--model pkg.module:factory`) through the real SLURM cluster: the worker imports it."""
import os
import textwrap

import pytest

from benchmark_fixtures import tiny_demo, use_env
from test_slurm import slurm_cluster  # noqa: F401  (fixture: fails under CI without a cluster, else skips)

pytestmark = pytest.mark.slurm


def test_own_model_runs_on_slurm_from_pythonpath(slurm_cluster, tmp_path, monkeypatch):  # noqa: F811
    from benchmarks import run
    from benchmarks.store import ResultStore

    use_env(monkeypatch, tmp_path)
    tiny_demo(tmp_path / "data")
    mods = tmp_path / "mods"     # on the shared filesystem the workers see
    mods.mkdir()
    (mods / "byo_slurm.py").write_text(textwrap.dedent('''
        import torch
        from torch import nn
        from avfmae.zoo import InputContract, adapter

        @adapter(InputContract(num_frames=8, img_size=64, num_mel_bins=64, target_length=128))
        def create(num_classes):
            class M(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.head = nn.Linear(4, num_classes) if num_classes else None
                def forward_features(self, video, audio):
                    return torch.cat([video.mean((2, 3, 4)), audio.mean((1, 2, 3))[:, None]], 1)
                def forward(self, video, audio):
                    return self.head(self.forward_features(video, audio))
            return M()
    '''))
    monkeypatch.syspath_prepend(str(mods))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(mods), os.environ.get("PYTHONPATH", "")]))
    args = ["--model", "byo_slurm:create", "--suite", "demo", "--folds", "fold1", "--executor", "slurm",
            "--set", "epochs=1", "--set", "batch_size=8", "--set", "progress=false"]
    assert run.main(args) == 0
    assert run.main(args[:6] + ["--protocol", "probe", "--executor", "slurm"]) == 0
    recs = [r for r in ResultStore().iter_results() if r["key"].model == "byo_slurm:create"]
    assert sorted(r["key"].protocol for r in recs) == ["paper", "probe"]
    assert all(r["configs"]["adapter"]["ref"] == "byo_slurm:create" for r in recs)
