// The decision forms of an entity page (progressive enhancement only):
// Ctrl+Enter (Cmd+Enter) in a reason submits its form, through "decide
// and open the next" when the form has it; arriving after such a decision
// (#decide) puts the cursor in the first reason on show.
(function () {
  document.addEventListener('keydown', function (e) {
    if (e.key !== 'Enter' || !(e.ctrlKey || e.metaKey) || e.target.tagName !== 'TEXTAREA') return;
    var form = e.target.form;
    if (!form || form.getAttribute('action') !== '/decisions') return;
    var button = form.querySelector('button[value=next]') || form.querySelector('button[type=submit]');
    if (button) { e.preventDefault(); button.click(); }
  });
  window.addEventListener('load', function () {
    if (window.location.hash !== '#decide') return;
    var reasons = document.querySelectorAll('form[action="/decisions"] textarea');
    for (var i = 0; i < reasons.length; i++) {
      if (reasons[i].offsetParent !== null) { reasons[i].focus(); break; }
    }
  });
})();
