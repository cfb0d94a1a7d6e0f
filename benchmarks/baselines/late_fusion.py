"""A late-fusion baseline: a small 3-D CNN on the face frames and a small 2-D CNN on the log-mel fbank, each with
its own linear head; the logits are averaged (late fusion). About 0.1 M parameters (26 k for create_small);
trains from scratch on CPU.

It is the reference example of a model of your own (avfmae.zoo.adapters): two factories with their input
contracts, `forward` -> logits or regression outputs, `forward_features` -> the concatenated pooled features
(the probe protocol), and layer ids (`num_layers`, `layer_id`) so stage 3's layer-wise lr decay applies.

    python -m benchmarks.run --model benchmarks.baselines.late_fusion:create_small --suite demo   # CPU demo
    python -m benchmarks.run --model benchmarks.baselines.late_fusion:create --suite cea --protocol probe
"""
from __future__ import annotations

import torch
from torch import nn

from avfmae.zoo import InputContract, adapter

# the official AVF-MAE++ fine-tune geometry: 16 frames x 160 px every 4th frame, 256 fbank frames x 128 mel bins
FULL = InputContract(num_frames=16, frame_stride=4, img_size=160, num_mel_bins=128, target_length=256)
# the CPU demo geometry (the avfmae-micro contract): 8 frames x 64 px, 128 fbank frames x 64 mel bins
SMALL = InputContract(num_frames=8, frame_stride=4, img_size=64, num_mel_bins=64, target_length=128)


def _block(conv, norm, cin, cout, kernel, stride):
    return nn.Sequential(conv(cin, cout, kernel, stride=stride, padding=tuple(k // 2 for k in kernel), bias=False),
                         norm(cout), nn.ReLU(inplace=True))


class LateFusionCNN(nn.Module):
    """video (B, 3, T, H, W) -> 3 conv3d stages -> pooled (B, width);  audio (B, 1, t, mel) -> 3 conv2d stages
    -> pooled (B, width); logits = (head_video + head_audio) / 2; features = [video, audio] (B, 2 * width)."""

    num_layers = 2    # layer ids: stage k of both encoders -> k (0 = the input stems); norms and heads -> 3

    def __init__(self, num_classes: int, width: int = 64, drop: float = 0.2):
        super().__init__()
        c = (width // 4, width // 2, width)
        self.video = nn.ModuleList([_block(nn.Conv3d, nn.BatchNorm3d, 3, c[0], (3, 5, 5), (1, 2, 2)),
                                    _block(nn.Conv3d, nn.BatchNorm3d, c[0], c[1], (3, 3, 3), (2, 2, 2)),
                                    _block(nn.Conv3d, nn.BatchNorm3d, c[1], c[2], (3, 3, 3), (2, 2, 2))])
        self.audio = nn.ModuleList([_block(nn.Conv2d, nn.BatchNorm2d, 1, c[0], (5, 5), (2, 2)),
                                    _block(nn.Conv2d, nn.BatchNorm2d, c[0], c[1], (3, 3), (2, 2)),
                                    _block(nn.Conv2d, nn.BatchNorm2d, c[1], c[2], (3, 3), (2, 2))])
        self.norm_video, self.norm_audio = nn.LayerNorm(width), nn.LayerNorm(width)
        self.drop = nn.Dropout(drop)
        self.head_video = nn.Linear(width, num_classes) if num_classes else None
        self.head_audio = nn.Linear(width, num_classes) if num_classes else None

    def encode(self, video: torch.Tensor, audio: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        for stage in self.video:
            video = stage(video)
        for stage in self.audio:
            audio = stage(audio)
        return self.norm_video(video.mean((2, 3, 4))), self.norm_audio(audio.mean((2, 3)))

    def forward_features(self, video: torch.Tensor, audio: torch.Tensor) -> torch.Tensor:
        return torch.cat(self.encode(video, audio), dim=-1)

    def forward(self, video: torch.Tensor, audio: torch.Tensor) -> torch.Tensor:
        if self.head_video is None:
            raise RuntimeError("built with num_classes=0 (features only): use forward_features")
        fv, fa = self.encode(video, audio)
        return (self.head_video(self.drop(fv)) + self.head_audio(self.drop(fa))) / 2

    def layer_id(self, name: str) -> int:
        parts = name.split(".")
        if parts[0] in ("video", "audio") and parts[1].isdigit():
            return int(parts[1])
        return self.num_layers + 1


def _build(num_classes: int, weights: str | None, width: int) -> LateFusionCNN:
    model = LateFusionCNN(num_classes, width)
    if weights:
        if str(weights).endswith(".safetensors"):
            from safetensors.torch import load_file
            state = load_file(weights)
        else:
            state = torch.load(weights, map_location="cpu", weights_only=True)
            state = state.get("model", state)
        if num_classes == 0 or state.get("head_video.weight", torch.empty(num_classes)).shape[0] != num_classes:
            state = {k: v for k, v in state.items() if not k.startswith(("head_video.", "head_audio."))}
        missing, unexpected = model.load_state_dict(state, strict=False)
        if unexpected or [k for k in missing if not k.startswith(("head_video.", "head_audio."))]:
            raise ValueError(f"{weights}: not LateFusionCNN weights (missing {missing[:4]}, unexpected "
                             f"{unexpected[:4]})")
    return model


@adapter(FULL)
def create(num_classes: int, weights: str | None = None) -> LateFusionCNN:
    """Late-fusion CNN baseline (3-D video CNN + 2-D fbank CNN, width 64) at the official AVF-MAE++ input."""
    return _build(num_classes, weights, 64)


@adapter(SMALL)
def create_small(num_classes: int, weights: str | None = None) -> LateFusionCNN:
    """Late-fusion CNN baseline (width 32) at the CPU demo input (8 x 64 px, 128 x 64 fbank)."""
    return _build(num_classes, weights, 32)
