"""``tdsnn spice``: characterise the cm neuron's mirrors with ngspice, then the network."""

from __future__ import annotations

import argparse
from pathlib import Path

from .card import add_card_options, card_from_args
from .characterise import CharParams


def cmd_spice(args: argparse.Namespace) -> int:
    from golden.commands import options_record, prepare_from_args
    from golden.pipeline import results_dir

    from .report import run
    cp = CharParams(card=card_from_args(args))
    if args.td_variants:
        return cmd_td_variants(args, cp, results_dir() / "spice" / "td_variants")
    if args.characterise_only:
        from .report import characterise_only
        print(characterise_only(cp, results_dir() / "spice", ode_substeps=args.ode_substeps))
        return 0
    data = run(prepare_from_args(args), results_dir(), cp, T=args.T, limit=args.limit,
               seed=args.seed, ode_substeps=args.ode_substeps, options=options_record(args))
    print((results_dir() / "spice" / "spice.md").read_text())
    print(f"characterisation {data['characterisation']['seconds']:.1f} s; "
          f"wrote {results_dir() / 'spice'}")
    return 0


def cmd_td_variants(args: argparse.Namespace, cp: CharParams, folder: Path) -> int:
    from .mismatch import MismatchParams
    from .ring_report import run
    from .ring_variants import FullScaleRule
    names = args.ring_variants.split(",") if args.ring_variants else None
    rule = FullScaleRule(min_phase=args.ring_min_phase or None,
                         max_frequency=args.ring_max_frequency)
    out = run(cp, folder, names, MismatchParams(samples=args.ring_instances), rule)
    print((folder / "td_variants.md").read_text())
    print(f"ngspice CPU {out['rings']['ngspice_cpu_s']:.0f} s for the ring variants; wrote {folder}")
    return 0


def cmd_energy(args: argparse.Namespace) -> int:
    from golden.commands import options_record, prepare_from_args
    from golden.pipeline import results_dir

    from .cost_report import run
    if args.montecarlo is not None and not Path(args.montecarlo).is_dir():
        raise FileNotFoundError(f"--montecarlo {args.montecarlo}: no such folder (it takes the "
                                f"folder of the Monte Carlo records, e.g. results/montecarlo)")
    cp = CharParams(card=card_from_args(args))
    mc = Path(args.montecarlo) if args.montecarlo is not None else results_dir() / "montecarlo"
    data = run(prepare_from_args(args), results_dir(), cp, T=args.T, limit=args.limit,
               images=args.images or None, seed=args.seed, ode_substeps=args.ode_substeps,
               spice_json=results_dir() / "spice" / "spice.json", montecarlo_dir=mc,
               options=options_record(args))
    print((results_dir() / "energy" / "energy.md").read_text())
    print(f"ngspice {data['seconds']['ngspice']:.1f} s, total {data['seconds']['total']:.0f} s; "
          f"wrote {results_dir() / 'energy'}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    from golden.commands import add_network_options
    from golden.options import int_at_least, steps
    p = sub.add_parser("spice", help="ngspice characterisation of the cm mirrors and the network "
                                     "error versus mirror length (results/spice/)")
    add_network_options(p)
    add_card_options(p)
    p.add_argument("--T", type=steps, default=64, help="time steps (1 to 2**24)")
    p.add_argument("--limit", type=int_at_least(1), default=None,
                   help="first N test images (default: all)")
    p.add_argument("--characterise-only", action="store_true",
                   help="only the ngspice characterisation and the transient validation "
                        "(results/spice/characterisation.json, validation.png), no network")
    p.add_argument("--ode-substeps", type=int, default=None,
                   help="RK4 sub-steps per pulse of cm's table mode, in the network and in "
                        "the validation's pulse trains (default: cm's own)")
    from golden.options import int_at_least

    from .ring_variants import VARIANTS
    p.add_argument("--td-variants", action="store_true",
                   help="only the td front-end design space: every ring-oscillator variant per "
                        "polarity (f-I, full scale, charge per pulse, area, Pelgrom Monte Carlo "
                        "over a current grid with a per-device variance breakdown, window "
                        "effects), the shared-ring design and the cm mirrors' gain spread "
                        "versus current (results/spice/td_variants/; cached)")
    p.add_argument("--ring-variants", default=None,
                   help=f"comma-separated ring variants for --td-variants (default: all: "
                        f"{', '.join(VARIANTS)})")
    p.add_argument("--ring-instances", type=int_at_least(2), default=200,
                   help="Monte Carlo instances per ring (and mirror) for --td-variants")
    p.add_argument("--ring-min-phase", type=float, default=2e-9,
                   help="full-scale contract of --td-variants: shortest output phase (s; one "
                        "500 MHz clock period for the synchroniser; 0: no such limit)")
    p.add_argument("--ring-max-frequency", type=float, default=None,
                   help="full-scale contract of --td-variants: highest output frequency (Hz; "
                        "a pulse-clocked counter's toggle rate)")
    p.set_defaults(func=cmd_spice)

    from .cost_report import IMAGES_DEFAULT
    p = sub.add_parser("energy", help="area per neuron, energy per inference and power per neuron "
                                      "of every cm variant and of td per counter architecture "
                                      "(sync, sync+gate, pulse) from ngspice and the cell "
                                      "library, against their error (results/energy/)")
    add_network_options(p)
    add_card_options(p)
    p.add_argument("--T", type=steps, default=64, help="time steps (1 to 2**24)")
    p.add_argument("--limit", type=int_at_least(1), default=None,
                   help="first N test images (default: all)")
    p.add_argument("--images", type=int_at_least(0), default=IMAGES_DEFAULT,
                   help="a seeded random subset of that many images for the event counts and "
                        "the nominal error (0: every image)")
    p.add_argument("--ode-substeps", type=int, default=2,
                   help="RK4 sub-steps per pulse of cm's table mode (2: as the reproduce stage)")
    p.add_argument("--montecarlo", default=None,
                   help="folder of Monte Carlo records for the mean and worst-chip error "
                        "(default: results/montecarlo)")
    p.set_defaults(func=cmd_energy)

    from .lib_commands import register as register_library_commands
    register_library_commands(sub)
