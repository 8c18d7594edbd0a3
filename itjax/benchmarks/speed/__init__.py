"""Speed suites: itjax against its peers, measured in the same run on the same machine.

Each module here exposes `run(*, quick: bool = False) -> list[SpeedRow]`; `itjax bench speed`
runs them all and writes one Markdown table. Ratios, not absolute times, are what travel
between machines: `ratio = peer_seconds / itjax_seconds` (> 1 means itjax is faster).
"""
