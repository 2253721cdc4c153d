/* Enhancements only: every link and form works without this file.
   On the search page, facet links, pagination and the search form load the next results
   in place (and keep the address in the history), instead of reloading the whole page. */
(function () {
  "use strict";
  var region = document.getElementById("search-results");
  if (!region || !window.fetch || !window.history || !window.DOMParser) { return; }

  // What the results region shows now: a change of #fragment alone loads nothing.
  var shown = window.location.pathname + window.location.search;

  function load(url, push) {
    region.setAttribute("aria-busy", "true");
    return fetch(url, { headers: { "Accept": "text/html" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) { throw new Error(String(response.status)); }
        return response.text();
      })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.getElementById("search-results");
        if (!fresh) { throw new Error("no results"); }
        region.replaceChildren.apply(region, Array.prototype.slice.call(fresh.childNodes));
        document.title = doc.title;
        var q = doc.getElementById("q");
        var mine = document.getElementById("q");
        if (q && mine) { mine.value = q.value; }
        if (push) { history.pushState({ search: true }, "", url); }
        shown = window.location.pathname + window.location.search;
        var summary = document.getElementById("results-title");
        if (summary) { summary.setAttribute("tabindex", "-1"); summary.focus(); }
      })
      .catch(function () { window.location.href = url; })
      .then(function () { region.removeAttribute("aria-busy"); });
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a[data-facet], .pagination a");
    if (!link || event.defaultPrevented || event.button !== 0 || event.metaKey ||
        event.ctrlKey || event.shiftKey || event.altKey) { return; }
    event.preventDefault();
    load(link.href, true);
  });

  window.addEventListener("popstate", function () {
    if (window.location.pathname + window.location.search === shown) { return; }
    load(window.location.href, false);
  });
})();
