"""Top-5 actions for new NTU `.skeleton` recordings.

    python jobs/predict.py --model runs:/<run_id>/model FILE.skeleton [FILE ...]
    python jobs/predict.py --model models:/skelmae-classifier@champion recordings/*.skeleton
    python jobs/predict.py --model runs/finetune-.../checkpoint_.../checkpoint.pt FILE.skeleton
    python jobs/predict.py --json --model ... FILE.skeleton    # one JSON object per file

Per file: its path, then the top-k actions (A-number, name, probability), best first. Unusable files
(unreadable, or NaN/inf values after preprocessing: never labelled) are reported on stderr by name
with the reason; the others are still predicted. A `.pt` is read with weights_only (no code runs). Exit status: 0 all
predicted, 1 some file failed, 2 the model could not be loaded.
"""

import argparse
import json
import sys

from data_pipeline.redact import redact
from skelmae.serve.predict import ModelLoadError, Predictor


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="MLflow model URI or fine-tuning checkpoint path")
    ap.add_argument("--top", type=int, default=5)
    ap.add_argument("--json", action="store_true", help="one JSON line per file instead of the table")
    ap.add_argument("files", nargs="+")
    args = ap.parse_args(argv)
    if args.top < 1:
        ap.error("--top must be >= 1")

    try:
        predictor = Predictor(args.model)
    except ModelLoadError as e:
        print(redact(f"predict: cannot use model {e}"), file=sys.stderr)
        return 2
    preds, failed = predictor.predict_files(args.files, k=args.top)
    for p in preds:
        if args.json:
            top = [{"action": f"A{label + 1:03d}", "label": label, "name": name, "probability": prob}
                   for label, name, prob in p.top]
            print(json.dumps({"file": p.file, "top": top}))
            continue
        print(p.file)
        for rank, (label, name, prob) in enumerate(p.top, 1):
            print(f"  {rank}. A{label + 1:03d} {name:<45} {prob:.3f}")
    for f, reason in failed:
        print(redact(f"FAILED {f}: {reason}"), file=sys.stderr)
    print(f"{len(preds)} predicted, {len(failed)} failed", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
