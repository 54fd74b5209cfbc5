#!/usr/bin/env bash
# Build the Jupyter Book (v1) offline-capable, with warnings as errors.
# MathJax, require.js and the ipywidgets HTML manager are fetched from the npm registry into
# book/offline/ (git-ignored) so that the built pages render math and widgets from file://.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
off="$here/offline"
if [ ! -f "$off/mathjax/tex-mml-chtml.js" ] || [ ! -f "$off/widgets/embed-amd.js" ] || [ ! -f "$off/widgets/require.js" ]; then
  tmp="$(mktemp -d)"
  (cd "$tmp" && npm pack --silent @jupyter-widgets/html-manager@1.0.15 requirejs@2.3.7 mathjax@3 >/dev/null)
  rm -rf "$off" && mkdir -p "$off/widgets" "$off/mathjax"
  for t in "$tmp"/*.tgz; do mkdir -p "$tmp/x" && tar -xzf "$t" -C "$tmp/x" && mv "$tmp/x/package" "$tmp/$(basename "$t" .tgz)" && rm -rf "$tmp/x"; done
  cp -r "$tmp"/jupyter-widgets-html-manager-*/dist/* "$off/widgets/"
  cp "$tmp"/requirejs-*/require.js "$off/widgets/require.js"
  cp -r "$tmp"/mathjax-*/es5/* "$off/mathjax/"
  rm -rf "$tmp"
fi
# ipywidgets 8's controls typeset widget descriptions with the MathJax 2 call MathJax.Hub.Queue; the
# book loads MathJax 3, which has no Hub (an uncaught TypeError per described widget). Give every
# MathJax object the page gets a Hub whose Queue typesets with MathJax 3 (loaded by _config.yml).
cat > "$off/mathjax2-hub.js" <<'JS'
(function () {
  var hub = {Queue: function (job) {
    var M = window.MathJax, el = job && job[2];
    var ready = M && M.startup && M.startup.promise ? M.startup.promise : Promise.resolve();
    return ready.then(function () { return M && M.typesetPromise && el ? M.typesetPromise([el]) : null; })
      .catch(function (e) { console.warn("MathJax typeset of a widget label failed", e); });
  }};
  var current = window.MathJax;
  Object.defineProperty(window, "MathJax", {configurable: true, enumerable: true,
    get: function () { return current; },
    set: function (v) { if (v && typeof v === "object" && v.version && !v.Hub) { v.Hub = hub; } current = v; }});
  if (current) { window.MathJax = current; }
})();
JS
export LOTTERY_LAB_QUICK="${LOTTERY_LAB_QUICK:-1}"
# the explorers draw their figures over a grid of control values now, so that the static pages'
# controls choose among them without a kernel (lottery_lab/widgets/_static.py)
export LOTTERY_LAB_STATIC=1
jupyter-book build -W -n --keep-going "$here"
