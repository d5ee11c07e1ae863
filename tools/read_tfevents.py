#!/usr/bin/python3
"""Reads TensorBoard event files with TensorBoard's own loader and prints what it sees as JSON.

An independent check of train/tensorboard.cpp: if TensorBoard's EventAccumulator reads the
scalars and text that `ssm train` wrote, `tensorboard --logdir` will show them.

    python3 tools/read_tfevents.py RUN_DIR_OR_EVENT_FILE
    {"scalars": {"train/loss": [[step, value, wall_time], ...], ...},
     "text": {"samples": [[step, "text"], ...], ...}}

Needs the `tensorboard` Python package (not in Debian; it is on machines that have a Python ML
stack). Exits 2 with a message when it is missing.
"""
import json
import sys


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    try:
        from tensorboard.backend.event_processing import event_accumulator as ea
    except ImportError as e:
        print(f"read_tfevents: the tensorboard Python package is not installed ({e})",
              file=sys.stderr)
        sys.exit(2)

    # 0 keeps every event instead of a reservoir sample.
    acc = ea.EventAccumulator(sys.argv[1], size_guidance={ea.SCALARS: 0, ea.TENSORS: 0})
    acc.Reload()
    tags = acc.Tags()
    out = {"scalars": {}, "text": {}}
    for tag in tags.get("scalars", []):
        out["scalars"][tag] = [[e.step, e.value, e.wall_time] for e in acc.Scalars(tag)]
    for tag in tags.get("tensors", []):
        events = acc.Tensors(tag)
        if events and events[0].tensor_proto.string_val:
            out["text"][tag] = [[e.step, e.tensor_proto.string_val[0].decode("utf-8")]
                                for e in events]
    json.dump(out, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
