//! The browser of the HTML report's tests: headless Chromium (Debian's `chromium`, or
//! `$GCORR_CHROMIUM`) driven over the DevTools protocol by drive.mjs beside this file
//! (playwright-core from package-lock.json, installed by `scripts/test`). A test lists what a
//! user does (`Browser`), runs it in one browser, and gets back what was rendered (`Look`).
//! Missing Chromium, Node or the npm packages fail the test, naming the fix.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};

use crate::tempdir;

pub fn chromium() -> PathBuf {
    let path = std::env::var_os("GCORR_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    assert!(
        path.exists(),
        "{}: no Chromium. The --format html tests load the report in a real headless browser: \
         run `scripts/test` (it installs Debian's `chromium` package), or set GCORR_CHROMIUM to a \
         Chromium binary.",
        path.display()
    );
    path
}

/// The driver (tests/ux/browser/drive.mjs) and the directory its npm packages go in.
fn driver() -> (PathBuf, PathBuf) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ux/browser");
    let modules = dir.join("node_modules/playwright-core");
    assert!(
        modules.exists(),
        "{}: the browser driver's npm packages are not installed: run `scripts/test` (it runs \
         `npm ci` in tests/ux/browser).",
        modules.display()
    );
    (dir.join("drive.mjs"), dir)
}

/// `#open=ID` with ID percent-encoded as `encodeURIComponent` would.
pub fn open(id: &str) -> String {
    let mut out = String::from("#open=");
    for b in id.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub fn url(page: &Path, fragment: &str) -> String {
    format!("file://{}{fragment}", page.display())
}

/// The browser window, in CSS pixels.
pub const WINDOW: (u32, u32) = (1400, 780);

/// Headless Chromium as root: without these it refuses to start, or its connections get
/// refused (`--headless` and a new empty `--user-data-dir` come on top).
pub const CHROMIUM_FLAGS: [&str; 7] = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
];

/// What a user does in one browser, step by step (see drive.mjs), and what the page showed.
pub struct Browser {
    steps: Vec<Value>,
}

impl Browser {
    pub fn new() -> Browser {
        Browser { steps: Vec::new() }
    }

    /// A new tab at `page` with `fragment`.
    pub fn goto(&mut self, page: &Path, fragment: &str) -> &mut Browser {
        self.steps.push(json!({"goto": url(page, fragment)}));
        self
    }

    /// Types `text` into the field `selector`, key by key.
    pub fn type_in(&mut self, selector: &str, text: &str) -> &mut Browser {
        self.steps.push(json!({"type": selector, "text": text}));
        self
    }

    pub fn select(&mut self, selector: &str, value: &str) -> &mut Browser {
        self.steps.push(json!({"select": selector, "value": value}));
        self
    }

    /// Clicks the overview row of `conversation`.
    pub fn click(&mut self, conversation: &str) -> &mut Browser {
        self.steps.push(json!({"click": conversation}));
        self
    }

    /// Edits the address's fragment in place.
    pub fn hash(&mut self, fragment: &str) -> &mut Browser {
        self.steps.push(json!({"hash": fragment}));
        self
    }

    /// Records what the page renders now.
    pub fn look(&mut self) -> &mut Browser {
        self.steps.push(json!({"look": true}));
        self
    }

    /// Records what the page renders now, and its DOM.
    pub fn look_dom(&mut self) -> &mut Browser {
        self.steps.push(json!({"look": true, "dom": true}));
        self
    }

    /// Records the colours of the PNG `path`, and those of its pixel column `x`.
    pub fn png(&mut self, path: &Path, x: f64) -> &mut Browser {
        self.steps.push(json!({"png": path, "x": x}));
        self
    }

    /// Runs the steps in one headless Chromium; one look per `look`/`png` step, in order.
    #[track_caller]
    pub fn run(&mut self) -> Vec<Look> {
        let (script, dir) = driver();
        let plan = json!({
            "chromium": chromium(),
            "args": CHROMIUM_FLAGS,
            "width": WINDOW.0,
            "height": WINDOW.1,
            "steps": std::mem::take(&mut self.steps),
        });
        let out = assert_cmd::Command::new("node")
            .current_dir(dir)
            .arg(script)
            .write_stdin(plan.to_string())
            .timeout(Duration::from_secs(120))
            .output()
            .expect("node runs the browser driver (Node 20 or later is needed)");
        assert!(
            out.status.success(),
            "the browser driver failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut looks: Value = serde_json::from_slice(&out.stdout).expect("the driver prints JSON");
        let Value::Array(looks) = looks["looks"].take() else {
            panic!("no looks: {looks}");
        };
        for look in &looks {
            if let Some(errors) = look.get("errors") {
                assert_eq!(errors, &json!([]), "no script error in the page");
            }
        }
        looks.into_iter().map(Look).collect()
    }
}

/// One look at the page, as drive.mjs reports it: boxes in CSS pixels of the viewport.
pub struct Look(pub Value);

impl Look {
    pub fn rows(&self) -> &Vec<Value> {
        self.0["rows"].as_array().expect("rows")
    }

    /// The conversations of the rows with `flag` set, in page order.
    pub fn rows_where(&self, flag: &str) -> Vec<&str> {
        self.rows()
            .iter()
            .filter(|r| r[flag] == true)
            .map(|r| r["id"].as_str().unwrap())
            .collect()
    }

    /// The conversations whose rows are on screen (laid out and not hidden), in page order.
    pub fn shown(&self) -> Vec<&str> {
        self.rows_where("shown")
    }

    #[track_caller]
    pub fn row(&self, id: &str) -> &Value {
        self.rows()
            .iter()
            .find(|r| r["id"] == id)
            .unwrap_or_else(|| panic!("no row {id}"))
    }

    pub fn expanded(&self) -> Vec<&str> {
        self.rows_where("expanded")
    }

    /// The drawn timelines that are on screen.
    pub fn timelines(&self) -> Vec<&Value> {
        self.0["timelines"]
            .as_array()
            .expect("timelines")
            .iter()
            .filter(|t| t["shown"] == true)
            .collect()
    }

    /// The rendered text of the opened conversations' panels.
    pub fn details(&self) -> Vec<&str> {
        self.0["details"]
            .as_array()
            .expect("details")
            .iter()
            .filter(|d| d["shown"] == true)
            .map(|d| d["text"].as_str().unwrap())
            .collect()
    }

    /// The rendered text of `key` (`counter`, `empty`, `missing`), if shown.
    pub fn text(&self, key: &str) -> Option<&str> {
        self.0[key].as_str()
    }

    pub fn height(&self) -> f64 {
        self.0["viewport"]["height"].as_f64().unwrap()
    }

    /// The bottom edge of the overview's column header.
    pub fn head_bottom(&self) -> f64 {
        self.0["head"]["bottom"].as_f64().unwrap()
    }

    /// The serialised DOM of a `look_dom` step.
    pub fn dom(&self) -> &str {
        self.0["dom"].as_str().expect("a look with the DOM")
    }
}

/// Headless Chromium's own `--screenshot` of `page` + `fragment`, as a user would take one,
/// in a window of the driver's size.
pub fn screenshot(page: &Path, fragment: &str, png: &Path) {
    let profile = tempdir();
    let out = assert_cmd::Command::new(chromium())
        .arg("--headless")
        .args(CHROMIUM_FLAGS)
        .args([
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
            "--virtual-time-budget=5000",
        ])
        .arg(format!("--window-size={},{}", WINDOW.0, WINDOW.1))
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--screenshot={}", png.display()))
        .arg(url(page, fragment))
        .timeout(Duration::from_secs(60))
        .output()
        .expect("chromium runs");
    assert!(
        out.status.success() && png.exists(),
        "chromium --screenshot failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
