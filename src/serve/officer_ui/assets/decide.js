// The decision forms of an entity page (progressive enhancement only):
// Ctrl+Enter (Cmd+Enter) in a reason submits its form, through "decide
// and open the next" when the form has it; arriving after such a decision
// (#decide) puts the cursor in the first reason.
(function () {
  document.addEventListener('keydown', function (e) {
    if (e.key !== 'Enter' || !(e.ctrlKey || e.metaKey) || e.target.tagName !== 'TEXTAREA') return;
    var form = e.target.form;
    if (!form || form.getAttribute('action') !== '/decisions') return;
    var button = form.querySelector('button[value=next]') || form.querySelector('button[type=submit]');
    if (button) { e.preventDefault(); button.click(); }
  });
  if (window.location.hash === '#decide') {
    var first = document.querySelector('form[action="/decisions"] textarea');
    if (first) first.focus();
  }
})();
