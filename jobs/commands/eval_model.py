"""`codemill eval-model`: held-out loss / perplexity and HumanEval pass@k of an exported model
(the hf/ folder of a training run). The figures are written to eval.json in the model folder
(merged with what an earlier evaluation wrote there), and to --json if given.

Generated programs run in trainer/sandbox.py: as root, in fresh PID, mount and network
namespaces, as an unprivileged uid, with a read-only view of the system and the interpreter
only, under process, CPU, memory, file-size and open-file limits (docs/sandbox.md). Without
root the sandbox falls back to rlimits and a Python audit hook, and says so once;
CODEMILL_SANDBOX=contained refuses to run without the full containment."""
from __future__ import annotations

import argparse


def register(subparsers) -> None:
    p = subparsers.add_parser("eval-model", help="held-out loss and HumanEval pass@k of a trained model",
                              description=__doc__)
    p.add_argument("model", help="model folder written by training (<run>/hf)")
    p.add_argument("--lake", help="lake whose gold/tokens held-out split to score (default: none)")
    p.add_argument("--version", type=int, help="gold/tokens Delta version (default: latest)")
    p.add_argument("--heldout-fraction", type=float, default=0.05)
    p.add_argument("--humaneval", action="store_true", help="also run HumanEval")
    p.add_argument("--n", type=int, default=10, help="samples per problem (default: %(default)s)")
    p.add_argument("--k", default="1,10", help="pass@k values (default: %(default)s)")
    p.add_argument("--temperature", type=float, default=0.2)
    p.add_argument("--max-new-tokens", type=int, default=128)
    p.add_argument("--limit", type=int, help="only the first N problems")
    p.add_argument("--device", default="cpu")
    p.add_argument("--json", help="also write the results to this file")
    p.set_defaults(handler=handle)


def handle(args) -> int:
    import json
    from pathlib import Path

    from jobs.core.errors import UserError
    if not (Path(args.model) / "config.json").exists():
        raise UserError(f"no exported model in {args.model} (expected config.json)")
    from trainer import evaluate
    results = {}
    if args.lake:
        results["heldout"] = evaluate.heldout_loss_of(args.model, args.lake, version=args.version,
                                                      heldout_fraction=args.heldout_fraction, device=args.device)
        h = results["heldout"]
        print(f"held-out loss {h['loss']:.4f}  perplexity {h['perplexity']:.2f}  "
              f"({h['sequences']} sequences, {h['tokens']} tokens, {h['table']}@v{h['version']})")
    if args.humaneval:
        ks = tuple(int(k) for k in args.k.split(","))
        he = evaluate.humaneval(args.model, n=args.n, ks=ks, temperature=args.temperature,
                                max_new_tokens=args.max_new_tokens, limit=args.limit, device=args.device)
        results["humaneval"] = he
        print("HumanEval: " + "  ".join(f"{k} {v:.4f}" for k, v in he.items() if k.startswith("pass@"))
              + f"  ({he['problems']} problems, n={he['n']}, T={he['temperature']}, sandbox {he['sandbox']})")
    if not results:
        raise UserError("nothing to do: give --lake and/or --humaneval")
    eval_json = Path(args.model) / "eval.json"
    merged = json.loads(eval_json.read_text()) if eval_json.exists() else {}
    merged.update(results)
    eval_json.write_text(json.dumps(merged, indent=1))
    print(f"results: {eval_json}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0
