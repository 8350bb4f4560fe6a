// Live pages: remember the last server-sent event id, so when htmx's SSE extension opens a fresh
// EventSource after a dropped connection the stream resumes from there (a browser's own reconnect
// sends Last-Event-ID by itself; a new EventSource does not). Also shows whether the page is live.
(function () {
  var lastId = null;
  document.addEventListener("htmx:sseMessage", function (event) {
    if (event.detail && event.detail.lastEventId) { lastId = event.detail.lastEventId; }
  });
  htmx.createEventSource = function (url) {
    if (lastId) {
      var resumed = new URL(url, window.location.href);
      resumed.searchParams.set("last_id", lastId);
      url = resumed.pathname + resumed.search;
    }
    return new EventSource(url, { withCredentials: true });
  };
  function show(state, text) {
    document.querySelectorAll("[data-live-badge]").forEach(function (badge) {
      badge.textContent = text;
      badge.dataset.state = state;
    });
    document.querySelectorAll("[sse-connect]").forEach(function (source) { source.dataset.live = state; });
  }
  document.addEventListener("htmx:sseOpen", function () { show("open", "live"); });
  document.addEventListener("htmx:sseError", function () { show("down", "reconnecting…"); });
})();
