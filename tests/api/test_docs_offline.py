"""/api/docs/ on a machine without internet: a real master serves every script, style sheet and
icon the page loads from its own origin (drf-spectacular-sidecar), and each of them answers."""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

import pytest
import requests

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(120)]


def test_the_docs_page_loads_only_same_origin_assets_and_each_answers(cluster):
    page = cluster.api.get(f"{cluster.url}/api/docs/", timeout=10)
    assert page.status_code == 200 and "swagger-ui" in page.text

    assets = re.findall(r'<(?:script|link)\b[^>]*\b(?:src|href)="([^"]+)"', page.text)
    assert len(assets) >= 3, f"expected Swagger UI's bundle, preset and style sheet: {assets}"
    origin = urlsplit(cluster.url).netloc
    for asset in assets:
        url = urljoin(page.url, asset)
        assert urlsplit(url).netloc == origin, f"the docs page loads {asset} from another origin"
        answer = requests.get(url, timeout=10)
        assert answer.status_code == 200 and len(answer.content) > 100, (asset, answer.status_code)
    assert any(a.endswith(".js") for a in assets) and any(a.endswith(".css") for a in assets)
