// Entry of app.js: the auditor page (index.html) or the console (console.html), by the page's data-page.
if (document.body.dataset.page === 'console') void import('./console.js').then((m) => m.startConsole());
else void import('./main.js');
