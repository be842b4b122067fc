#!/bin/sh
# models/recipe.sh -- how the shipped model models/lectern.lnm is trained: the
# exact commands of its run (MODEL_CARD.md has the figures).
#
#   models/recipe.sh [build|train|resume|finetune|evaluate|install]
#
# Inputs: the Mutopia piano corpus built into bundles by `lectern corpus build`
# (models/corpus/README.md) in $CORPUS, and its index.json (suggested_split:
# 499 train / 16 valid pieces). Generated data and checkpoints live outside
# the git tree ($WORK). Training uses both cores (--threads 2) at nice 10.
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
LECTERN=${LECTERN:-$ROOT/build/app/lectern}
CORPUS=${CORPUS:-/work/cache/corpus}
INDEX=${INDEX:-/work/shared/corpus/mutopia-piano/index.json}
WORK=${WORK:-/work/cache/train}
MODEL=$WORK/lectern.lnm
CKPT=$WORK/lectern.ckpt

# The architecture chosen in models/README.md ("Choosing the architecture"):
# staff space 4 px (note heads readable), a 128 x 96 px window in 16 buckets,
# and the bucket head (engine/nn/README.md): the score tower ends in a 16-column
# map, and one shared head reads each column + the spectrogram embedding.
ARCH="win=128x96 ss=4 buckets=16 bucket_head=1 score=c16,p,c32,p,c64,p,c64 head=d128"

step=${1:-train}
case "$step" in
build)
    # 1. the bundles: every piece of the tree (valid-split pieces included:
    #    `lectern train` routes them to validation), FluidR3 + TimGM6mb renderings
    "$LECTERN" corpus build "$INDEX" --out "$CORPUS" -j 2
    ;;
train)
    # 2. training, logged to $WORK/log.txt; a checkpoint every 10 minutes, on
    #    Ctrl-C/SIGTERM and when --minutes runs out (the model so far is then
    #    written too). Spectrograms are computed once into $WORK/spec.
    mkdir -p "$WORK"
    nohup nice -n 10 "$LECTERN" train \
        --data "$CORPUS" --split-from-index "$INDEX" --cache "$WORK/spec" \
        --out "$MODEL" --checkpoint "$CKPT" \
        --arch "$ARCH" --no-outside \
        --steps 18000 --minutes 75 --threads 2 --batch 32 --lr 1e-3 --seed 1 \
        --valid-every 1000 --valid-samples 1024 --progress-every 100 \
        --checkpoint-minutes 10 >>"$WORK/log.txt" 2>&1 &
    echo "training in the background (pid $!), log: $WORK/log.txt"
    ;;
resume)
    # 3. continue exactly where the checkpoint stopped (same settings, same
    #    schedule); add e.g. --steps 40000 to train longer (new schedule end).
    shift
    nohup nice -n 10 "$LECTERN" train --resume --out "$MODEL" --checkpoint "$CKPT" \
        --cache "$WORK/spec" --minutes 85 "$@" >>"$WORK/log.txt" 2>&1 &
    echo "resumed in the background (pid $!), log: $WORK/log.txt"
    ;;
finetune)
    # 3b. go on training the shipped model when its checkpoint is gone (a new
    #     machine): a new run from models/lectern.lnm's weights (same
    #     architecture, front end and normalisation), a smaller rate; then
    #     `resume` continues this run from its checkpoint as above.
    shift
    mkdir -p "$WORK"
    nohup nice -n 10 "$LECTERN" train --init "$ROOT/models/lectern.lnm" \
        --data "$CORPUS" --split-from-index "$INDEX" --cache "$WORK/spec" \
        --out "$MODEL" --checkpoint "$CKPT" \
        --steps 20000 --minutes 85 --threads 2 --batch 32 --lr 3e-4 --seed 2 \
        --valid-every 1000 --valid-samples 1024 --progress-every 100 \
        --checkpoint-minutes 10 "$@" >>"$WORK/log.txt" 2>&1 &
    echo "fine-tuning in the background (pid $!), log: $WORK/log.txt"
    ;;
evaluate)
    # 4. the model card's figures: validation metrics of the model file on the
    #    valid-split bundles, with the data settings recorded in the model
    "$LECTERN" train --evaluate "${2:-$MODEL}" --data "$CORPUS" --split-from-index "$INDEX" \
        --cache "$WORK/spec" --valid-samples 4096
    ;;
install)
    # 5. ship it
    cp "$MODEL" "$ROOT/models/lectern.lnm"
    ;;
*)
    echo "usage: $0 [build|train|resume|finetune|evaluate|install]" >&2
    exit 2
    ;;
esac
