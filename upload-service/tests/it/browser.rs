//! The real page in headless Chromium: choose a file, upload it, see it listed, download it.
