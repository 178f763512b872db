#!/usr/bin/python3
"""Reads an OpenMetrics text with prometheus_client's parser (not ours) and
prints every sample as one line, labels sorted: name{k="v",...} value.
Exits 1 with the parser's complaint when the text does not parse."""
import sys

from prometheus_client.openmetrics.parser import text_string_to_metric_families


def main():
    text = open(sys.argv[1], encoding="utf-8").read()
    try:
        families = list(text_string_to_metric_families(text))
    except ValueError as e:
        print(f"not OpenMetrics: {e}", file=sys.stderr)
        return 1
    for family in families:
        for s in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
            value = s.value
            if value == int(value):
                value = int(value)
            print(f"{s.name}{{{labels}}} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
