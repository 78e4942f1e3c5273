// Keyboard shortcuts of the review queue (progressive enhancement only):
// j / k move between rows, x ticks the row for a bulk decision, / opens
// the search. Switched off by the
// link on the page (a cookie), when this file is not included at all.
(function () {
  var rows = Array.prototype.slice.call(document.querySelectorAll('tr[data-row]'));
  var at = -1;
  function go(i) {
    if (!rows.length) return;
    at = Math.max(0, Math.min(rows.length - 1, i));
    var link = rows[at].querySelector('a');
    if (link) link.focus();
  }
  document.addEventListener('keydown', function (e) {
    var t = e.target.tagName;
    if (t === 'INPUT' || t === 'TEXTAREA' || t === 'SELECT' || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === 'j') { go(at + 1); e.preventDefault(); }
    else if (e.key === 'k') { go(at - 1); e.preventDefault(); }
    else if (e.key === 'x' && at >= 0) {
      var box = rows[at].querySelector('input[type=checkbox]');
      if (box) { box.checked = !box.checked; e.preventDefault(); }
    }
    else if (e.key === '/') { window.location.href = '/search'; e.preventDefault(); }
  });
})();
