"""Exercise the public functions on small inputs and print a table.

`make demo` runs this until the ground-truth benchmark (`itjax bench --quick`) exists.
"""

import itjax


def main() -> None:
    names = sorted(n for n in itjax.__all__ if n != "Estimate")
    print(f"itjax {itjax.__version__}: {len(names)} public functions")
    for name in names:
        print(f"  {name}")


if __name__ == "__main__":
    main()
