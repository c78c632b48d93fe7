//! The moderation console in a real headless Chromium: a moderator logs in, clears a small
//! queue with the keyboard (single decisions and a bulk one on a selection), and sees a colleague's decision, made first from a second session,
//! instead of overwriting it; then bans an email domain through the bans page, sees the ban
//! enforced and lifts it. The console must also fit a 390-pixel-wide phone screen. A second
//! test opens the spam waves page with `g w` and decides a made-up campaign at once. A third is
//! the issue's first session of a new moderator: on a phone, in Indonesian, fifty pending
//! comments cleared with the keyboard (one key each, a mistake undone with `u`), then an address
//! and an email domain banned.
//!
//! Screenshots land in `<target>/screenshots/browser-console-*.png`; `docs/console.png` was
//! taken from `browser-console-01-queue.png`.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail, ensure};
use fantoccini::{Client, Locator};
use serde_json::{Value, json};

use super::harness::{Driver, Guard, screenshot, solve, tail, wait_css, wait_js};

const TOKEN: &str = "test-token-1-abcdefghijklmn";
const ANI: (&str, &str) = ("ani", "kata-sandi-ani-rahasia");
const BUDI: (&str, &str) = ("budi", "kata-sandi-budi-rahasia");

/// A cheap argon2id hash: the test logs in many times on a shared machine.
fn cheap_hash(password: &str) -> String {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let params = argon2::Params::new(1024, 1, 1, None).expect("params");
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let salt = SaltString::encode_b64(b"saring-test-salt").expect("salt");
    argon
        .hash_password(password.as_bytes(), &salt)
        .expect("hash")
        .to_string()
}

struct ConsoleServer {
    base: String,
    log: std::path::PathBuf,
    _child: Guard,
}

/// Starts the binary with two console accounts and waits for its address line.
fn start_server(dir: &std::path::Path) -> Result<ConsoleServer> {
    let log = dir.join("console-server.log");
    let config = dir.join("console.toml");
    std::fs::write(
        &config,
        format!(
            "[console]\narticle_url = \"https://berita.contoh.id/{{thread}}\"\n\
             [[console.accounts]]\nname = \"{}\"\npassword_hash = \"{}\"\n\
             [[console.accounts]]\nname = \"{}\"\npassword_hash = \"{}\"\n",
            ANI.0,
            cheap_hash(ANI.1),
            BUDI.0,
            cheap_hash(BUDI.1)
        ),
    )?;
    let mut child = Command::new(env!("CARGO_BIN_EXE_saring"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.join("console-data"))
        .arg("--config")
        .arg(&config)
        .env("SARING_MODERATOR_TOKENS", format!("alice:{TOKEN}"))
        .env("SARING_RATE_LIMITS", "off")
        // The queue is seeded through the JSON API with the sum alone.
        .env("SARING_POW_DIFFICULTY", "0")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log)?)
        .spawn()
        .context("starting the saring binary")?;
    let stdout = child.stdout.take().context("server stdout")?;
    let child = Guard(child);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(|l| l.ok()) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx
            .recv_timeout(left)
            .map_err(|_| anyhow!("no address line; log:\n{}", tail(&log)))?;
        if let Some(at) = line.find("http://") {
            let base: String = line[at..]
                .chars()
                .take_while(|c| !c.is_whitespace())
                .collect();
            return Ok(ConsoleServer {
                base,
                log,
                _child: child,
            });
        }
    }
}

/// Posts a comment through the JSON API with the captcha solved; returns the response.
async fn post_comment(
    base: &str,
    thread: &str,
    name: &str,
    email: &str,
    body: &str,
) -> Result<reqwest::Response> {
    let http = reqwest::Client::new();
    let c: Value = http
        .get(format!("{base}/api/v1/captcha?thread={thread}"))
        .send()
        .await?
        .json()
        .await?;
    let question = c["question"].as_str().unwrap_or_default();
    let answer = solve(question).with_context(|| format!("cannot solve {question}"))?;
    Ok(http
        .post(format!("{base}/api/v1/threads/{thread}/comments"))
        .json(&json!({
            "author_name": name,
            "author_email": email,
            "body": body,
            "captcha_token": c["token"],
            "captcha_answer": answer.to_string(),
        }))
        .send()
        .await?)
}

/// Posts a comment the default policy holds (a first comment with a link); returns its id.
async fn held_comment(base: &str, n: usize) -> Result<String> {
    let resp: Value = post_comment(
        base,
        "berita-konsol",
        &format!("Pembaca {n}"),
        &format!("pembaca{n}@contoh.id"),
        &format!(
            "Komentar {n}: info lengkap di https://blog-warga.example.net/jalan-{n} <b>ya</b>"
        ),
    )
    .await?
    .json()
    .await?;
    ensure!(
        resp["status"] == "pending",
        "expected a held comment: {resp}"
    );
    Ok(resp["id"].as_str().unwrap_or_default().to_string())
}

async fn log_in(client: &Client, base: &str, who: (&str, &str)) -> Result<()> {
    log_in_as(client, base, who, "en").await
}

async fn log_in_as(
    client: &Client,
    base: &str,
    (name, password): (&str, &str),
    lang: &str,
) -> Result<()> {
    client
        .goto(&format!("{base}/admin/login?lang={lang}"))
        .await?;
    wait_css(client, "input[name=name]")
        .await?
        .send_keys(name)
        .await?;
    client
        .find(Locator::Css("input[name=password]"))
        .await?
        .send_keys(password)
        .await?;
    client
        .find(Locator::Css("section.login button[type=submit]"))
        .await?
        .click()
        .await?;
    wait_css(client, "nav.queues").await?;
    Ok(())
}

/// Types a key into whatever has the focus, as a moderator at the keyboard does.
async fn press(client: &Client, key: &str) -> Result<()> {
    client.active_element().await?.send_keys(key).await?;
    Ok(())
}

async fn wait_cards(client: &Client, n: u64, what: &str) -> Result<()> {
    let waited = wait_js(
        client,
        &format!("document.querySelectorAll('#cards .card').length === {n} || null"),
        what,
    )
    .await;
    if let Err(e) = waited {
        // What the moderator would see: the focused element and the last message.
        let seen = client
            .execute(
                "return [document.activeElement.tagName, document.activeElement.id, \
                 (document.getElementById('toast') || {}).textContent];",
                vec![],
            )
            .await?;
        bail!("{e}; the page shows {seen}");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_moderator_clears_a_queue_with_the_keyboard_and_sees_a_colleagues_decision() -> Result<()>
{
    let Some(chromedriver) = super::harness::chromedriver_or_skip() else {
        return Ok(());
    };
    let tmp = tempfile::tempdir()?;
    let server = start_server(tmp.path())?;
    let driver = Driver::start(&chromedriver, tmp.path()).await?;
    let result = async {
        let mut ids = Vec::new();
        for n in 1..=7 {
            ids.push(held_comment(&server.base, n).await?);
        }
        let ani = driver
            .session(&tmp.path().join("profile-ani"), true)
            .await?;
        let budi = driver
            .session(&tmp.path().join("profile-budi"), true)
            .await?;
        let outcome = scenario(&server.base, &ani, &budi, &ids).await;
        let _ = ani.close().await;
        let _ = budi.close().await;
        outcome
    }
    .await;
    if result.is_err() {
        eprintln!("--- server log ---\n{}", tail(&server.log));
    }
    result
}

async fn scenario(base: &str, ani: &Client, budi: &Client, ids: &[String]) -> Result<()> {
    ani.set_window_size(1100, 1000).await?;
    log_in(ani, base, ANI).await?;
    log_in(budi, base, BUDI).await?;
    wait_cards(ani, 7, "seven held comments").await?;
    // The script focused the first card; the link that held it is highlighted.
    wait_js(
        ani,
        "document.activeElement.classList.contains('card')",
        "focus on a card",
    )
    .await?;
    ensure!(
        ani.execute(
            "return document.querySelector('#cards .card mark') !== null;",
            vec![]
        )
        .await?
            == json!(true),
        "the matched link is highlighted"
    );
    ensure!(
        ani.execute("return document.querySelector('#cards .card .body').textContent.indexOf('<b>ya</b>') >= 0;", vec![]).await? == json!(true),
        "reader markup is shown as text"
    );
    screenshot(ani, "console-01-queue").await?;

    // ? opens the help, Escape closes it; j and k move between cards.
    press(ani, "?").await?;
    wait_js(ani, "document.getElementById('help').open", "the help").await?;
    press(ani, "\u{e00c}").await?; // Escape
    press(ani, "j").await?;
    wait_js(
        ani,
        &format!(
            "document.activeElement.getAttribute('data-id') === '{}'",
            ids[1]
        ),
        "j to the second card",
    )
    .await?;
    press(ani, "k").await?;
    wait_js(
        ani,
        &format!(
            "document.activeElement.getAttribute('data-id') === '{}'",
            ids[0]
        ),
        "k back to the first",
    )
    .await?;

    // A colleague approves the last comment in their own session, with the keyboard too.
    wait_cards(budi, 7, "budi's queue").await?;
    budi.execute(
        &format!("document.getElementById('c-{}').focus();", ids[6]),
        vec![],
    )
    .await?;
    press(budi, "a").await?;
    wait_cards(budi, 6, "budi's decision").await?;

    // Ani clears the first four: approve, spam, reject, approve. Focus follows to the next card.
    for (i, key) in ["a", "s", "r", "a"].iter().enumerate() {
        press(ani, key).await?;
        wait_cards(ani, 6 - i as u64, "a decision from the keyboard").await?;
        wait_js(
            ani,
            "document.activeElement.classList.contains('card')",
            "focus on the next card",
        )
        .await?;
    }
    // x selects two, shift+S marks both spam in one bulk request.
    press(ani, "x").await?;
    press(ani, "j").await?;
    press(ani, "x").await?;
    wait_js(
        ani,
        "document.querySelectorAll('#cards input[name=item]:checked').length === 2",
        "two selected",
    )
    .await?;
    press(ani, "S").await?;
    wait_cards(ani, 1, "the bulk decision").await?;
    // The last card still shows the version Ani loaded; deciding it shows Budi's decision.
    wait_js(
        ani,
        &format!("document.activeElement.id === 'c-{}'", ids[6]),
        "focus on the last card",
    )
    .await?;
    press(ani, "s").await?;
    let conflict = wait_js(
        ani,
        &format!(
            "(document.querySelector('#c-{} .conflict') || {{}}).textContent",
            ids[6]
        ),
        "the colleague's decision on the card",
    )
    .await?;
    let text = conflict.as_str().unwrap_or_default();
    ensure!(
        text.contains("budi") && text.contains("decided first") && text.contains("approved"),
        "conflict text: {text}"
    );
    screenshot(ani, "console-02-conflict").await?;
    let expected = [
        "published",
        "spam",
        "rejected",
        "published",
        "spam",
        "spam",
        "published",
    ];
    for (id, want) in ids.iter().zip(expected) {
        let got = super::harness::comment_status(base, TOKEN, id).await?;
        if got != want {
            bail!("{id} is {got}, expected {want}");
        }
    }

    // A ban through the bans page's form, seen in the list, enforced, then lifted.
    ani.goto(&format!("{base}/admin/bans?lang=en")).await?;
    let kind = wait_css(ani, "#ban-form select[name=kind]").await?;
    kind.select_by_value("email_domain").await?;
    ani.find(Locator::Css("#ban-form input[name=value]"))
        .await?
        .send_keys("judi.example")
        .await?;
    ani.find(Locator::Css("#ban-form input[name=reason]"))
        .await?
        .send_keys("promosi <judi>")
        .await?;
    ani.find(Locator::Css("#ban-form button[type=submit]"))
        .await?
        .click()
        .await?;
    let row = wait_css(ani, "tr.ban[data-active=true]").await?;
    let text = row.text().await?;
    ensure!(
        text.contains("judi.example") && text.contains("promosi <judi>"),
        "the ban is listed with its reason as text: {text}"
    );
    screenshot(ani, "console-04-bans").await?;
    let refused = post_as(base, "promo@judi.example").await?;
    ensure!(
        refused == 422,
        "a banned domain is refused neutrally, got {refused}"
    );
    row.find(Locator::Css("button[type=submit]"))
        .await?
        .click()
        .await?;
    wait_js(
        ani,
        "document.querySelectorAll('tr.ban').length === 0 || null",
        "the lifted ban to leave the list",
    )
    .await?;

    // A phone: nothing wider than the screen.
    ani.set_window_size(390, 844).await?;
    ani.goto(&format!("{base}/admin?queue=published&lang=id"))
        .await?;
    wait_css(ani, "#cards .card").await?;
    let width = ani
        .execute(
            "return [document.documentElement.scrollWidth, window.innerWidth];",
            vec![],
        )
        .await?;
    let (scroll, inner) = (
        width[0].as_u64().unwrap_or(0),
        width[1].as_u64().unwrap_or(0),
    );
    ensure!(
        scroll <= inner,
        "the page scrolls sideways on a phone: {scroll} > {inner}"
    );
    screenshot(ani, "console-03-phone").await?;
    ani.goto(&format!("{base}/admin/bans?lang=id")).await?;
    wait_css(ani, "#ban-form").await?;
    let width = ani
        .execute(
            "return [document.documentElement.scrollWidth, window.innerWidth];",
            vec![],
        )
        .await?;
    ensure!(
        width[0].as_u64() <= width[1].as_u64(),
        "the bans page scrolls sideways on a phone: {width}"
    );
    Ok(())
}

/// The HTTP status of a post from an author with this email.
async fn post_as(base: &str, email: &str) -> Result<u16> {
    let resp = post_comment(
        base,
        "berita-konsol",
        "Promo",
        email,
        "Terima kasih beritanya.",
    )
    .await?;
    Ok(resp.status().as_u16())
}

/// Posts one comment of a made-up job-scam campaign (the same text with other figures, links
/// to subdomains of one site) in `thread`; returns its id.
async fn campaign_comment(base: &str, thread: &str, n: usize) -> Result<String> {
    let resp: Value = post_comment(
        base,
        thread,
        &format!("Pencari Kerja {n}"),
        &format!("pencari{n}@contoh.id"),
        &format!("Ada lowongan kerja dari rumah, gaji {} juta. Daftar di https://kerja{n}.lowongan-cepat.example/info <b>sekarang</b>", 3 + n),
    )
    .await?
    .json()
    .await?;
    let id = resp["id"].as_str().unwrap_or_default().to_string();
    ensure!(!id.is_empty(), "the campaign comment was stored: {resp}");
    Ok(id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_moderator_decides_a_spam_wave_at_once_from_the_waves_page() -> Result<()> {
    let Some(chromedriver) = super::harness::chromedriver_or_skip() else {
        return Ok(());
    };
    let tmp = tempfile::tempdir()?;
    let server = start_server(tmp.path())?;
    let driver = Driver::start(&chromedriver, tmp.path()).await?;
    let result = async {
        let mut ids = Vec::new();
        for n in 0..5 {
            let thread = format!("berita-{}", n % 3);
            ids.push(campaign_comment(&server.base, &thread, n).await?);
        }
        let ani = driver
            .session(&tmp.path().join("profile-ani-waves"), true)
            .await?;
        let outcome = wave_scenario(&server.base, &ani, &ids).await;
        let _ = ani.close().await;
        outcome
    }
    .await;
    if result.is_err() {
        eprintln!("--- server log ---\n{}", tail(&server.log));
    }
    result
}

async fn wave_scenario(base: &str, ani: &Client, ids: &[String]) -> Result<()> {
    ani.set_window_size(1100, 1000).await?;
    log_in(ani, base, ANI).await?;
    // From the queue, `g` then `w` opens the waves page.
    wait_js(
        ani,
        "document.activeElement.classList.contains('card')",
        "focus on a card",
    )
    .await?;
    press(ani, "g").await?;
    press(ani, "w").await?;
    let card = wait_css(ani, "article.wave-card").await?;
    let text = card.text().await?;
    ensure!(
        text.contains("5 comments")
            && text.contains("3 threads")
            && text.contains("lowongan-cepat.example"),
        "the wave card: {text}"
    );
    ensure!(
        ani.execute(
            "return document.querySelector('article.wave-card .sample .body').textContent.indexOf('<b>sekarang</b>') >= 0 && !document.querySelector('article.wave-card .sample b');",
            vec![]
        )
        .await?
            == json!(true),
        "sample bodies are shown as text"
    );
    screenshot(ani, "console-05-waves").await?;

    // One click decides the whole wave.
    card.find(Locator::Css("button[value=spam]"))
        .await?
        .click()
        .await?;
    wait_css(ani, "ul.bulk-results").await?;
    for id in ids {
        let got = super::harness::comment_status(base, TOKEN, id).await?;
        ensure!(got == "spam", "{id} is {got} after the wave's decision");
    }
    ani.goto(&format!("{base}/admin/waves?lang=en")).await?;
    let decided = wait_css(ani, "article.wave-card p.decided")
        .await?
        .text()
        .await?;
    ensure!(
        decided.contains("ani") && decided.contains("marked spam"),
        "the card says who decided: {decided}"
    );
    ensure!(
        ani.find_all(Locator::Css("article.wave-card form.actions"))
            .await?
            .is_empty(),
        "a decided wave has no decision buttons"
    );

    // A phone: nothing wider than the screen.
    ani.set_window_size(390, 844).await?;
    ani.goto(&format!("{base}/admin/waves?lang=id")).await?;
    wait_css(ani, "article.wave-card").await?;
    let width = ani
        .execute(
            "return [document.documentElement.scrollWidth, window.innerWidth];",
            vec![],
        )
        .await?;
    ensure!(
        width[0].as_u64() <= width[1].as_u64(),
        "the waves page scrolls sideways on a phone: {width}"
    );
    screenshot(ani, "console-06-waves-phone").await?;
    Ok(())
}

/// Reads a JSON value from the page.
async fn js(client: &Client, expr: &str) -> Result<Value> {
    Ok(client.execute(&format!("return {expr};"), vec![]).await?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_moderator_clears_fifty_comments_on_a_phone_in_indonesian_and_bans() -> Result<()> {
    let Some(chromedriver) = super::harness::chromedriver_or_skip() else {
        return Ok(());
    };
    let tmp = tempfile::tempdir()?;
    let server = start_server(tmp.path())?;
    let driver = Driver::start(&chromedriver, tmp.path()).await?;
    let result = async {
        for n in 1..=50 {
            held_comment(&server.base, n).await?;
        }
        let ani = driver
            .session(&tmp.path().join("profile-ani-fifty"), true)
            .await?;
        let outcome = fifty_scenario(&server.base, &ani).await;
        let _ = ani.close().await;
        outcome
    }
    .await;
    if result.is_err() {
        eprintln!("--- server log ---\n{}", tail(&server.log));
    }
    result
}

async fn fifty_scenario(base: &str, ani: &Client) -> Result<()> {
    const COUNT: &str =
        "parseInt(document.querySelector('nav.queues a[aria-current] .count').textContent, 10)";
    const FOCUSED: &str = "document.activeElement.classList.contains('card') ? document.activeElement.getAttribute('data-id') : null";
    ani.set_window_size(390, 844).await?;
    log_in_as(ani, base, ANI, "id").await?;
    wait_js(ani, FOCUSED, "focus on the first card").await?;
    ensure!(
        js(ani, COUNT).await? == json!(50),
        "the pending tab counts fifty"
    );
    let width = js(
        ani,
        "[document.documentElement.scrollWidth, window.innerWidth]",
    )
    .await?;
    ensure!(
        width[0].as_u64() <= width[1].as_u64(),
        "the queue scrolls sideways on a phone: {width}"
    );
    // One key per comment; the page holds twenty, and clearing it brings the next twenty.
    let started = Instant::now();
    let mut expected: Vec<(String, &str)> = Vec::new();
    let mut left = 50u64;
    while left > 0 {
        let id = wait_js(ani, FOCUSED, "focus on a card").await?;
        let id = id.as_str().unwrap_or_default().to_string();
        let (key, status) = match expected.len() % 5 {
            3 => ("s", "spam"),
            4 => ("r", "rejected"),
            _ => ("a", "published"),
        };
        if expected.len() == 12 {
            // A slip: approved what should be spam, undone at once, then marked spam.
            press(ani, "a").await?;
            wait_js(
                ani,
                &format!("{COUNT} === {} || null", left - 1),
                "the slip",
            )
            .await?;
            press(ani, "u").await?;
            wait_js(
                ani,
                &format!("({FOCUSED}) === '{id}' && {COUNT} === {left} || null"),
                "the undone comment back in focus",
            )
            .await?;
            press(ani, "s").await?;
            expected.push((id, "spam"));
        } else {
            press(ani, key).await?;
            expected.push((id, status));
        }
        left -= 1;
        wait_js(
            ani,
            &format!("{COUNT} === {left} || null"),
            "the decision to leave the queue",
        )
        .await?;
    }
    let took = started.elapsed();
    let empty = wait_css(ani, "#cards .empty").await?.text().await?;
    ensure!(
        empty.contains("Antrean ini kosong"),
        "the cleared queue says so in Indonesian: {empty}"
    );
    // Reported, not asserted: a script is not a person, but it shows the path is one key each.
    eprintln!("fifty comments cleared with 53 keys in {took:.1?}");
    let mut ids: Vec<&str> = expected.iter().map(|(id, _)| id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    ensure!(ids.len() == 50, "every one of the fifty was decided once");
    for (id, want) in &expected {
        let got = super::harness::comment_status(base, TOKEN, id).await?;
        ensure!(got == *want, "{id} is {got}, expected {want}");
    }

    // An email domain, then an address, banned from the bans page in Indonesian.
    for (kind, value) in [("email_domain", "judi.example"), ("address", "127.0.0.1")] {
        ani.goto(&format!("{base}/admin/bans?lang=id")).await?;
        wait_css(ani, "#ban-form select[name=kind]")
            .await?
            .select_by_value(kind)
            .await?;
        ani.find(Locator::Css("#ban-form input[name=value]"))
            .await?
            .send_keys(value)
            .await?;
        ani.find(Locator::Css("#ban-form input[name=reason]"))
            .await?
            .send_keys("promosi judi")
            .await?;
        ani.find(Locator::Css("#ban-form button[type=submit]"))
            .await?
            .click()
            .await?;
        wait_js(
            ani,
            &format!(
                "Array.from(document.querySelectorAll('tr.ban[data-active=true]')).some(r => r.textContent.includes('{value}')) || null"
            ),
            "the ban in the list",
        )
        .await?;
        if kind == "email_domain" {
            ensure!(
                post_as(base, "promo@judi.example").await? == 422,
                "the banned email domain is refused"
            );
            ensure!(
                post_as(base, "warga@contoh.id").await? == 201,
                "another reader still posts before the address ban"
            );
        } else {
            ensure!(
                post_as(base, "warga3@contoh.id").await? == 422,
                "the banned address is refused whatever the email"
            );
        }
    }
    let width = js(
        ani,
        "[document.documentElement.scrollWidth, window.innerWidth]",
    )
    .await?;
    ensure!(
        width[0].as_u64() <= width[1].as_u64(),
        "the bans page scrolls sideways on a phone: {width}"
    );
    screenshot(ani, "console-06-phone-bans").await?;
    Ok(())
}
