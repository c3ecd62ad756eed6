// SPDX-License-Identifier: MIT
// app.js: the dashboard's shell (sign-in, navigation, the refresh loop).
document.getElementById('app').textContent = 'modeld dashboard';
