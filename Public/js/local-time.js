// Enhancement only: next to each session's time in the event's time zone, the same time in the viewer's zone
// (when it differs). Without JavaScript the page shows the event's zone, which it names.
(function () {
  var zone;
  try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone; } catch (e) { return; }
  var lang = document.documentElement.lang || undefined;
  document.querySelectorAll('.local-time[data-start]').forEach(function (el) {
    var start = new Date(el.getAttribute('data-start'));
    var end = new Date(el.getAttribute('data-end'));
    var fmt = new Intl.DateTimeFormat(lang, { dateStyle: 'medium', timeStyle: 'short' });
    var tfmt = new Intl.DateTimeFormat(lang, { timeStyle: 'short' });
    el.textContent = '(' + fmt.format(start) + ' – ' + tfmt.format(end) + ', ' + zone + ')';
  });
})();
