"""``mdr status`` text: a table that fits 100 columns, and predict URLs that are whole (a cut one never works)."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from reconciler.core.status import DeploymentStatus, render_statuses

OCI_URL = (
    "https://modeldeployment.us-ashburn-1.oci.customer-oci.com/"
    "ocid1.datasciencemodeldeployment.oc1.iad.amaaaaaav66vvniaqsyu2nufljutkn4rzth2nz4q7mw6ovxyhoq7pz4gsi3a"
)


def status(name: str, url: str | None, drift: list[str] | None = None) -> DeploymentStatus:
    return DeploymentStatus(
        name=name,
        sync="OutOfSync" if drift else "Synced",
        health="Healthy",
        lifecycle="ACTIVE",
        url=url,
        model="ocid1.datasciencemodel.oc1.iad.amaaaaaamodel",
        drift=drift or [],
        last_change="2026-11-26T10:00:00Z",
        model_name="a-model-display-name-that-is-rather-long",
    )


def test_the_table_fits_100_columns_and_each_predict_url_is_whole_on_a_line_of_its_own() -> None:
    text = render_statuses(
        [
            status("fraud-scorer", OCI_URL, drift=["displayName", "infrastructure.replicas"]),
            status("a-deployment-with-a-name-as-long-as-a-dns-label-allows", None),
        ]
    )
    lines = text.splitlines()
    url_lines = [line for line in lines if line.strip().startswith("https://")]
    assert [line.strip() for line in url_lines] == [f"{OCI_URL}/predict"]
    assert all(len(line) <= 100 for line in lines if line not in url_lines), text
    assert re.search(r"a-model-display-name-\S*…", text)  # a model's name, cut to fit
    assert "fraud-scorer: drifted fields: displayName, infrastructure.replicas" in text


LABEL = st.from_regex(r"[a-z][a-z0-9-]{0,62}", fullmatch=True)


@given(
    st.lists(
        st.tuples(
            LABEL,
            st.text(min_size=1, max_size=120),
            st.sampled_from(["Synced", "OutOfSync", "Missing"]),
            st.sampled_from(["ACTIVE", "NEEDS_ATTENTION", "CREATING", None]),
        ),
        min_size=1,
        max_size=5,
    )
)
def test_every_line_but_a_url_fits_100_columns_whatever_the_names(
    rows: list[tuple[str, str, str, str | None]],
) -> None:
    statuses = []
    for name, model, sync, lifecycle in rows:
        one = status(name, OCI_URL, drift=["displayName"] if sync == "OutOfSync" else None)
        one.model_name, one.sync, one.lifecycle = model.replace("\n", " "), sync, lifecycle
        statuses.append(one)
    lines = render_statuses(statuses).splitlines()
    assert all(len(line) <= 100 for line in lines if not line.strip().startswith("https://"))
