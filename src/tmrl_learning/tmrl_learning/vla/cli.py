"""`tmrl vla-new` (a small pi0-class model and a word tokenizer to train from scratch on CPU) and
`tmrl vla-csp` (CSP training of a pi0 folder on demonstrations with images, e.g. `tmrl libero-demos`)."""

from __future__ import annotations

import json
from pathlib import Path


def _new(args) -> int:
    import torch

    from tmrl_learning.vla.pi0 import Pi0Config, Pi0Policy, save_pi0, tiny_vlm
    from tmrl_learning.vla.tokenizer import build_word_tokenizer

    language = json.loads(Path(args.demos).with_suffix(".json").read_text())["language"]
    build_word_tokenizer([language], Path(args.out) / "tokenizer", vocab_size=args.vocab)
    torch.manual_seed(args.seed)
    cfg = Pi0Config(vlm=tiny_vlm(args.image_size, args.width, args.vocab), horizon=args.horizon,
                    action_dim=args.action_dim, proprio_dim=args.proprio_dim, expert_hidden=args.width)
    save_pi0(Path(args.out) / "policy", Pi0Policy(cfg))
    print(f"tmrl vla-new: {args.out}/policy (pi0-class, width {args.width}) and {args.out}/tokenizer")
    return 0


def _csp(args) -> int:
    from tmrl_learning.vla.train import train_csp

    losses = train_csp(args.policy, args.demos, args.tokenizer, args.out, args.steps, args.batch_size, args.lr,
                       args.seed, args.camera)
    print(f"tmrl vla-csp: {args.out}: loss {sum(losses[:10]) / 10:.4f} (first 10) -> {sum(losses[-10:]) / 10:.4f}")
    return 0


def add_vla_commands(sub) -> None:
    new = sub.add_parser("vla-new", help="a small pi0-class model and a word tokenizer for demonstrations")
    new.add_argument("--demos", required=True, help="demonstrations (.npz with its .json: the instruction)")
    new.add_argument("--out", type=Path, required=True)
    new.add_argument("--image-size", type=int, default=128)
    new.add_argument("--width", type=int, default=64)
    new.add_argument("--vocab", type=int, default=300)
    new.add_argument("--horizon", type=int, default=8)
    new.add_argument("--action-dim", type=int, default=7)
    new.add_argument("--proprio-dim", type=int, default=9)
    new.add_argument("--seed", type=int, default=0)
    new.set_defaults(func=_new)
    csp = sub.add_parser("vla-csp", help="CSP training of a pi0 folder on demonstrations with images")
    csp.add_argument("--policy", required=True, help="pi0 folder (config.json + model.safetensors)")
    csp.add_argument("--demos", required=True)
    csp.add_argument("--tokenizer", required=True, help="tokenizer folder")
    csp.add_argument("--out", type=Path, required=True)
    csp.add_argument("--steps", type=int, default=1000)
    csp.add_argument("--batch-size", type=int, default=16)
    csp.add_argument("--lr", type=float, default=1e-4)
    csp.add_argument("--camera", default="agentview")
    csp.add_argument("--seed", type=int, default=0)
    csp.set_defaults(func=_csp)
