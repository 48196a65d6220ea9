"""Headless Chromium for the HTML tests: render a page in a real browser, count its rendered images and
check that no user-supplied script ran. Shared by the tear-sheet and sweep-report tests."""
from __future__ import annotations

import os
import shutil

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-extensions", "--hide-scrollbars"]
CHECKER = """<script>
window.addEventListener('load', function () {
  var imgs = Array.prototype.slice.call(document.images);
  var ok = imgs.filter(function (i) { return i.complete && i.naturalWidth > 0 && i.naturalHeight > 0; }).length;
  var out = document.createElement('pre'); out.id = 'aibt-check';
  out.textContent = 'images=' + imgs.length + ' rendered=' + ok + ' pwned=' + (window.pwned === undefined ? 'no' : 'yes') + ' title=' + document.title;
  document.body.appendChild(out);
});
</script>"""


def browser_or_skip():
    if CHROMIUM is None:
        if os.environ.get("AIBT_REQUIRE_BROWSER"):
            pytest.fail("AIBT_REQUIRE_BROWSER is set but no chromium binary was found")
        pytest.skip("headless Chromium not installed (apt-get install chromium); .ci/run installs it")
    return CHROMIUM
