"""Which OCI regions exist, as far as the installed SDK knows: the offline check of a stack's ``region``."""

from __future__ import annotations

import difflib


def known_regions() -> frozenset[str]:
    import oci

    return frozenset(oci.regions.REGIONS)


def is_known_region(region: str) -> bool:
    return region in known_regions()


def closest_regions(region: str, count: int = 3) -> list[str]:
    return difflib.get_close_matches(region, sorted(known_regions()), n=count, cutoff=0.6)
