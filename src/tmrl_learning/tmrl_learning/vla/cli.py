"""`tmrl vla-new` (pi0's architecture at toy width and a word tokenizer, to train from scratch on CPU),
`tmrl vla-import` (an openpi or LeRobot pi0 checkpoint -> a tmrl pi0 folder) and `tmrl vla-csp` (CSP
training of a pi0 folder on demonstrations with images, e.g. `tmrl libero-demos`)."""

from __future__ import annotations

import json
from pathlib import Path


def _new(args) -> int:
    import torch
    from transformers import PI0ForConditionalGeneration

    from tmrl_learning.vla.pi0 import CspPi0, CspPi0Config, save_csp_pi0, tiny_pi0_config
    from tmrl_learning.vla.tokenizer import build_word_tokenizer

    language = json.loads(Path(args.demos).with_suffix(".json").read_text())["language"]
    build_word_tokenizer([language], Path(args.out) / "tokenizer", vocab_size=args.vocab)
    torch.manual_seed(args.seed)
    pi0 = PI0ForConditionalGeneration(tiny_pi0_config(args.image_size, args.width, args.vocab, args.horizon,
                                                      args.layers))
    save_csp_pi0(Path(args.out) / "policy", CspPi0(pi0, CspPi0Config(args.action_dim, args.proprio_dim,
                                                                      args.max_text_tokens)))
    print(f"tmrl vla-new: {args.out}/policy (pi0, width {args.width}) and {args.out}/tokenizer")
    return 0


def _import(args) -> int:
    from tmrl_learning.vla.pi0 import import_pi0

    folder = import_pi0(args.source, args.out, args.action_dim, args.proprio_dim, args.max_text_tokens)
    print(f"tmrl vla-import: {folder} (pi0's weights; CSP's t-MLP starts at zero)")
    return 0


def _csp(args) -> int:
    from tmrl_learning.vla.train import train_csp

    losses = train_csp(args.policy, args.demos, args.tokenizer, args.out, args.steps, args.batch_size, args.lr,
                       args.seed, args.camera, device=args.device)
    print(f"tmrl vla-csp: {args.out}: loss {sum(losses[:10]) / 10:.4f} (first 10) -> {sum(losses[-10:]) / 10:.4f}")
    return 0


def add_vla_commands(sub) -> None:
    new = sub.add_parser("vla-new", help="pi0 at toy width and a word tokenizer for demonstrations")
    new.add_argument("--demos", required=True, help="demonstrations (.npz with its .json: the instruction)")
    new.add_argument("--out", type=Path, required=True)
    new.add_argument("--image-size", type=int, default=128)
    new.add_argument("--width", type=int, default=64)
    new.add_argument("--vocab", type=int, default=300)
    new.add_argument("--horizon", type=int, default=8)
    new.add_argument("--action-dim", type=int, default=7)
    new.add_argument("--proprio-dim", type=int, default=9)
    new.add_argument("--layers", type=int, default=1, help="VLM and expert layers")
    new.add_argument("--max-text-tokens", type=int, default=16)
    new.add_argument("--seed", type=int, default=0)
    new.set_defaults(func=_new)
    imp = sub.add_parser("vla-import", help="an openpi or LeRobot pi0 checkpoint -> a tmrl pi0 folder")
    imp.add_argument("source", help="folder with model.safetensors (and its config.json)")
    imp.add_argument("--out", type=Path, required=True)
    imp.add_argument("--action-dim", type=int, required=True, help="the robot's action values (pi0 pads to 32)")
    imp.add_argument("--proprio-dim", type=int, default=0, help="the robot's state values (pi0 pads to 32)")
    imp.add_argument("--max-text-tokens", type=int, default=48, help="pi0's tokenizer_max_length")
    imp.set_defaults(func=_import)
    csp = sub.add_parser("vla-csp", help="CSP training of a pi0 folder on demonstrations with images")
    csp.add_argument("--policy", required=True, help="pi0 folder (vla-new, vla-import)")
    csp.add_argument("--demos", required=True)
    csp.add_argument("--tokenizer", required=True, help="tokenizer folder")
    csp.add_argument("--out", type=Path, required=True)
    csp.add_argument("--steps", type=int, default=1000)
    csp.add_argument("--batch-size", type=int, default=16)
    csp.add_argument("--lr", type=float, default=1e-4)
    csp.add_argument("--camera", default="agentview")
    csp.add_argument("--seed", type=int, default=0)
    csp.add_argument("--device", default="cpu", help="cuda on a GPU machine")
    csp.set_defaults(func=_csp)
