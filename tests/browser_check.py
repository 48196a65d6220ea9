"""Headless Chromium for the HTML tests: render a page in a real browser, count its rendered images,
check that no user-supplied script ran, and list the ids of the page's sections that are shown with a
heading. Shared by the tear-sheet and sweep-report tests.

CHECKER appends ``images=N rendered=N pwned=no|yes title=...`` and, on the next line,
``sections=id1,id2,...`` (``<section id>`` elements in document order that are displayed and hold a
non-empty ``h2``) to the page, for ``--dump-dom`` to read."""
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
  var secs = Array.prototype.slice.call(document.querySelectorAll('section[id]')).filter(function (s) {
    var h = s.querySelector('h2'); return s.offsetHeight > 0 && h && h.textContent.trim().length > 0;
  }).map(function (s) { return s.id; });
  out.textContent = 'images=' + imgs.length + ' rendered=' + ok + ' pwned=' + (window.pwned === undefined ? 'no' : 'yes') + ' title=' + document.title
    + '\\nsections=' + secs.join(',');
  document.body.appendChild(out);
});
</script>"""


def browser_or_skip():
    if CHROMIUM is None:
        if os.environ.get("AIBT_REQUIRE_BROWSER"):
            pytest.fail("AIBT_REQUIRE_BROWSER is set but no chromium binary was found")
        pytest.skip("headless Chromium not installed (apt-get install chromium); .ci/run installs it")
    return CHROMIUM
