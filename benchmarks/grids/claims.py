"""The method's claims on the synthetic demo set, each arm with the same stage-3 budget (the demo suite runs it).

Stage 1 (unlabelled) and stage 2 (labelled) train on the demo's external corpus, `demo-extra` (other identities,
the part the paper's other corpora play), once, shared by every fold; stage 3 fine-tunes and tests per fold on
subjects no earlier stage has seen. The reference arm (1+2+3, audio-visual) is the demo suite's main run and the
main table's number; the variants are the comparisons:

    scratch          stage 3 from random init                      (does pre-training help?)
    1+3              stage 3 from the stage-1 model                (does masked pre-training alone help?)
    1+2+3 video      the reference with the audio blanked           (does audio-visual beat one modality?)
    1+2+3 audio      the reference with the video blanked
"""
from benchmarks.gridspec import Grid

EXTERNAL = ("demo-extra:fold1:train", "demo-extra:fold1:test")     # every clip of the external corpus
PIPELINE = {"stage1.data": EXTERNAL, "stage2.data": tuple(f"{s}|name=demo-extra" for s in EXTERNAL),
            "stage2.epochs": 16}
REFERENCE = {"stages": "1+2+3", **PIPELINE}

GRID = Grid(
    name="claims",
    description="the method's claims on the demo set: scratch vs 1+3 vs 1+2+3, audio-visual vs video vs audio "
                "(same stage-3 budget; pre-training on an external corpus)",
    paper="progressive semantic injection and modality ablations, on the synthetic demo set",
    models=("avfmae-micro",),
    datasets=("demo",),
    # threads 0: every core (the cpu presets pin one thread so tests can run side by side); not part of the identity
    # 6 stage-3 epochs per arm (15 fine-tunings in the demo suite's ten minutes)
    base={"preset": "cpu", "epochs": 6, "threads": 0, "stage1.threads": 0, "stage2.threads": 0},
    reference=REFERENCE,
    variants=(
        {"stages": "3"},
        {"stages": "1+3", **PIPELINE},
        {**REFERENCE, "modalities": "video"},
        {**REFERENCE, "modalities": "audio"},
    ),
)
