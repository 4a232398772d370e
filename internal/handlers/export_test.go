package handlers

// Dangerous reports whether a spreadsheet could evaluate a cell (see
// dangerous), for the security suite.
var Dangerous = dangerous
