// The review queue's "select all on this page" box (progressive
// enhancement: without it, each row is ticked by hand).
(function () {
  var all = document.getElementById('select-all');
  if (!all) return;
  all.addEventListener('change', function () {
    var boxes = document.querySelectorAll('tr[data-row] input[type=checkbox]');
    for (var i = 0; i < boxes.length; i++) boxes[i].checked = all.checked;
  });
})();
