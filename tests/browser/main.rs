//! The widget, the demo page and the no-JavaScript form in a real headless Chromium.
//!
//! Needs Debian's `chromium` and `chromium-driver`; without them the test says SKIPPED and passes.
//! Screenshots land in `<target>/screenshots/browser-*.png` for a person to look at.

mod console;
mod harness;
mod pow;

use anyhow::{Context, Result, bail, ensure};
use fantoccini::{Client, Locator, key::Key};
use serde_json::{Value, json};

use harness::{Driver, Server, screenshot, solve, tail, wait_css, wait_js, wait_js_for};

const TOKEN: &str = "test-token-1-abcdefghijklmn";
const THREAD: &str = "#saring-thread";
const FORM: &str = "#saring-thread form.saring-form";
const PENDING: &str = "Komentar Anda menunggu moderasi.";
const PUBLISHED: &str = "Komentar Anda sudah terbit.";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn widget_and_plain_form_work_in_headless_chromium() -> Result<()> {
    let Some(chromedriver) = harness::chromedriver_or_skip() else {
        return Ok(());
    };
    let tmp = tempfile::tempdir()?;
    let server = Server::start(tmp.path(), TOKEN)?;
    let driver = Driver::start(&chromedriver, tmp.path()).await?;

    let result = async {
        let js = driver.session(&tmp.path().join("profile-js"), true).await?;
        let outcome = with_javascript(&server, &driver, &js).await;
        let _ = js.close().await;
        outcome?;
        let plain = driver
            .session(&tmp.path().join("profile-nojs"), false)
            .await?;
        let outcome = without_javascript(&server, &plain).await;
        let _ = plain.close().await;
        outcome
    }
    .await;
    if result.is_err() {
        eprintln!("--- server log ---\n{}", tail(&server.log));
    }
    result
}

/// A comment as a reader types it.
struct Reader<'a> {
    name: &'a str,
    email: &'a str,
    url: &'a str,
    body: &'a str,
}

/// The text of the first element matching a selector inside the thread.
fn text_of(css: &str) -> String {
    format!("(document.querySelector('{css}') || {{}}).textContent")
}

/// Reads the captcha as the widget shows it, with the blank put back as `[ ]`; empty while loading.
const QUESTION_JS: &str = "(function () {
    var p = document.querySelectorAll('#saring-thread .saring-qpart');
    if (p.length < 2) return null;
    var q = p[0].textContent + '[ ]' + p[1].textContent;
    return q.indexOf('…') < 0 && /\\d/.test(q) ? q : null;
})()";

async fn fill(client: &Client, css: &str, value: &str) -> Result<()> {
    let el = client
        .find(Locator::Css(css))
        .await
        .with_context(|| css.to_string())?;
    el.clear().await?;
    if !value.is_empty() {
        el.send_keys(value).await?;
    }
    Ok(())
}

/// Fills the widget's form, answers the captcha from the page, posts, and returns the new
/// comment's id and the status line the reader sees.
async fn post_with_widget(
    js: &Client,
    reader: &Reader<'_>,
    answer: Option<&str>,
) -> Result<(String, String)> {
    let textarea = wait_css(js, &format!("{FORM} textarea[name=comment]")).await?;
    textarea.click().await?;
    let question = wait_js(js, QUESTION_JS, "a captcha question").await?;
    let question = question.as_str().unwrap_or_default().to_string();
    let solved = solve(&question).with_context(|| format!("cannot solve `{question}`"))?;
    fill(js, &format!("{FORM} textarea[name=comment]"), reader.body).await?;
    fill(js, &format!("{FORM} input[name=author]"), reader.name).await?;
    fill(js, &format!("{FORM} input[name=email]"), reader.email).await?;
    fill(js, &format!("{FORM} input[name=url]"), reader.url).await?;
    let answer = answer
        .map(str::to_string)
        .unwrap_or_else(|| solved.to_string());
    fill(js, &format!("{FORM} input[name=captcha_answer]"), &answer).await?;
    js.find(Locator::Css(&format!("{FORM} button[type=submit]")))
        .await?
        .click()
        .await?;
    let status = wait_js(
        js,
        &format!(
            "(function () {{ var s = {}; return s && s.indexOf('Mengirim') < 0 ? s : null; }})()",
            text_of(&format!("{FORM} .saring-status"))
        ),
        "the outcome of posting",
    )
    .await?;
    let status = status.as_str().unwrap_or_default().to_string();
    // The widget moves focus to the comment it just added.
    let id = js
        .execute("var li = document.activeElement && document.activeElement.closest('li.saring-comment'); return li ? li.id : null;", vec![])
        .await?;
    let id = id
        .as_str()
        .unwrap_or_default()
        .trim_start_matches("comment-")
        .to_string();
    Ok((id, status))
}

/// Approves a held comment through the moderator API, as a moderator's tool would.
async fn approve(base: &str, id: &str) -> Result<()> {
    let http = reqwest::Client::new();
    let detail: Value = http
        .get(format!("{base}/api/v1/mod/comments/{id}"))
        .bearer_auth(TOKEN)
        .send()
        .await?
        .error_for_status()
        .context("moderator detail")?
        .json()
        .await?;
    let version = detail["version"].clone();
    let resp = http
        .post(format!("{base}/api/v1/mod/comments/{id}/decision"))
        .bearer_auth(TOKEN)
        .json(&json!({"action": "approve", "reason": "browser test", "expected_version": version}))
        .send()
        .await?;
    let status = resp.status();
    ensure!(
        status.is_success(),
        "approve {id}: {status} {}",
        resp.text().await.unwrap_or_default()
    );
    Ok(())
}

/// Closes or reopens the demo thread through the moderator API.
async fn set_closed(base: &str, close: bool) -> Result<()> {
    let action = if close { "close" } else { "reopen" };
    let resp = reqwest::Client::new()
        .post(format!("{base}/api/v1/mod/threads/demo-artikel/{action}"))
        .bearer_auth(TOKEN)
        .send()
        .await?;
    let status = resp.status();
    ensure!(
        status.is_success(),
        "{action}: {status} {}",
        resp.text().await.unwrap_or_default()
    );
    Ok(())
}

/// Loads /demo until the thread shows the expected count heading. The thread API lets browsers
/// cache a page for a few seconds, so a reader who reloads at once may need to reload again.
async fn open_demo(js: &Client, base: &str, heading: &str) -> Result<()> {
    let deadline = std::time::Instant::now() + harness::DEADLINE;
    let expr = format!(
        "{} === {}",
        text_of(&format!("{THREAD} > .saring-title")),
        json!(heading)
    );
    loop {
        js.goto(&format!("{base}/demo")).await?;
        let attempt = wait_js_for(js, &expr, heading, std::time::Duration::from_secs(3)).await;
        match attempt {
            Ok(_) => return Ok(()),
            Err(e) if std::time::Instant::now() > deadline => {
                return Err(e.context(format!("the heading `{heading}` never showed")));
            }
            Err(_) => {}
        }
    }
}

async fn severe_console_entries(driver: &Driver, js: &Client) -> Result<Vec<String>> {
    Ok(driver
        .console(js)
        .await?
        .into_iter()
        .filter(|(level, _, _)| level == "SEVERE")
        .map(|(_, source, message)| format!("[{source}] {message}"))
        .collect())
}

async fn with_javascript(server: &Server, driver: &Driver, js: &Client) -> Result<()> {
    let base = server.base.as_str();
    open_demo(js, base, "Belum ada komentar").await?;
    screenshot(js, "01-demo-empty").await?;

    // A first-time commenter with a link: the default policy holds it for a moderator.
    let wayan = Reader {
        name: "Wayan Sudarsana",
        email: "wayan@contoh.id",
        url: "wayan.example",
        body: "Syukurlah jembatannya sudah dibuka lagi. Foto-fotonya saya unggah di https://wayan.example/jembatan",
    };
    // Opt in to "remember me" before the first post.
    js.find(Locator::Css(&format!("{FORM} input[type=checkbox]")))
        .await?
        .click()
        .await?;
    let (first, status) = post_with_widget(js, &wayan, None).await?;
    ensure!(!first.is_empty(), "the posted comment got focus and an id");
    ensure!(
        status == PENDING,
        "first-time commenter with a link is held, got `{status}`"
    );
    let badge = js
        .find(Locator::Css(&format!(
            "#comment-{first}.saring-pending .saring-badge"
        )))
        .await
        .context("the pending comment is shown at once with its badge")?;
    ensure!(badge.text().await? == PENDING);
    let typed = js
        .execute(
            &format!("return document.querySelector('{FORM} textarea').value"),
            vec![],
        )
        .await?;
    ensure!(
        typed == json!(""),
        "the box is emptied after a successful post"
    );
    screenshot(js, "02-pending").await?;

    approve(base, &first).await?;
    open_demo(js, base, "1 Komentar").await?;
    let card = wait_css(js, &format!("#comment-{first}")).await?;
    let remembered = js
        .execute(
            &format!("return document.querySelector('{FORM} input[name=author]').value"),
            vec![],
        )
        .await?;
    ensure!(
        remembered == json!(wayan.name),
        "remember me fills the name after a reload: {remembered}"
    );
    ensure!(
        card.attr("class").await?.unwrap_or_default() == "saring-comment",
        "approved, no pending mark"
    );
    let author = card.find(Locator::Css("a.saring-author")).await?;
    ensure!(author.attr("rel").await?.as_deref() == Some("nofollow ugc"));
    ensure!(
        author.attr("href").await?.as_deref() == Some("https://wayan.example"),
        "scheme added to the website"
    );
    wait_js(js, "[].every.call(document.querySelectorAll('[data-saring-count=\"demo-artikel\"]'), function (e) { return e.textContent === '1 Komentar'; })", "the article list counts").await?;
    let when = card
        .find(Locator::Css("time.saring-time"))
        .await?
        .text()
        .await?;
    ensure!(
        when == "baru saja" || when.ends_with("yang lalu"),
        "relative time in Indonesian: `{when}`"
    );

    // Reply with the keyboard only: Enter on the reply button moves the form under the comment.
    let reply_button = card.find(Locator::Css(".saring-actions button")).await?;
    reply_button
        .send_keys(&char::from(Key::Enter).to_string())
        .await?;
    wait_js(js, &format!("document.activeElement && document.activeElement.name === 'comment' && !!document.activeElement.closest('#comment-{first}')"), "focus in the reply form under the comment").await?;
    let title = js
        .find(Locator::Css(&format!("{FORM} h3")))
        .await?
        .text()
        .await?;
    ensure!(
        title == "Balas ke Wayan Sudarsana",
        "reply title: `{title}`"
    );
    let siti = Reader {
        name: "Siti Rahmawati",
        email: "siti@contoh.id",
        url: "",
        body: "Betul, anak saya juga sekarang tidak perlu berangkat subuh lagi.",
    };
    let (reply, status) = post_with_widget(js, &siti, None).await?;
    ensure!(
        status == PENDING || status == PUBLISHED,
        "reply outcome `{status}`"
    );
    wait_css(
        js,
        &format!("#comment-{first} > .saring-replies > #comment-{reply}"),
    )
    .await?;
    screenshot(js, "03-reply").await?;
    if status == PENDING {
        approve(base, &reply).await?;
    }

    // Hostile markup must arrive as text: no alert, no element.
    let hostile = Reader {
        name: "<b>Penguji</b>",
        email: "penguji@contoh.id",
        url: "",
        body: "Coba <script>alert(1)</script> dan <img src=x onerror=alert(1)> di sini",
    };
    let (evil, status) = post_with_widget(js, &hostile, None).await?;
    ensure!(
        status == PENDING || status == PUBLISHED,
        "hostile outcome `{status}`"
    );
    if status == PENDING {
        approve(base, &evil).await?;
    }
    open_demo(js, base, "3 Komentar").await?;
    let evil_card = wait_css(js, &format!("#comment-{evil}")).await?;
    let body = evil_card
        .find(Locator::Css(".saring-body"))
        .await?
        .text()
        .await?;
    ensure!(
        body.contains("<script>alert(1)</script>") && body.contains("<img src=x onerror=alert(1)>"),
        "shown as text: `{body}`"
    );
    let name = evil_card
        .find(Locator::Css(".saring-author"))
        .await?
        .text()
        .await?;
    ensure!(name == "<b>Penguji</b>", "name shown as text: `{name}`");
    let injected = js
        .execute("return document.querySelectorAll('#saring-thread img, #saring-thread script, #saring-thread b').length", vec![])
        .await?;
    ensure!(injected == json!(0), "no element injected into the thread");
    match js.get_alert_text().await {
        Err(e) if e.is_no_such_alert() => {}
        other => bail!("an alert opened: {other:?}"),
    }
    wait_css(
        js,
        &format!("#comment-{first} > .saring-replies > #comment-{reply}"),
    )
    .await?;
    screenshot(js, "04-thread").await?;

    // A reader reports the hostile comment: a confirm, then the button says so.
    let report = evil_card
        .find(Locator::Css(".saring-actions button:nth-child(2)"))
        .await?;
    report.click().await?;
    js.accept_alert()
        .await
        .context("the report asks for confirmation")?;
    wait_js(
        js,
        &format!(
            "{} === 'Dilaporkan'",
            text_of(&format!(
                "#comment-{evil} .saring-actions button:nth-child(2)"
            ))
        ),
        "the report to be acknowledged",
    )
    .await?;

    let errors = severe_console_entries(driver, js).await?;
    ensure!(
        errors.is_empty(),
        "console errors during normal use: {errors:#?}"
    );

    // A wrong answer: the text stays, the captcha field says why, and a new question is shown.
    let budi = Reader {
        name: "Budi",
        email: "budi@contoh.id",
        url: "",
        body: "Semoga jembatan permanennya cepat dibangun.",
    };
    let (_, status) = post_with_widget(js, &budi, Some("999")).await?;
    ensure!(
        !status.is_empty() && status != PENDING && status != PUBLISHED,
        "refused: `{status}`"
    );
    let kept = js
        .execute(
            &format!("return document.querySelector('{FORM} textarea').value"),
            vec![],
        )
        .await?;
    ensure!(kept == json!(budi.body), "the text stays in the box");
    let cap_err = js
        .execute(
            &format!(
                "return document.querySelector('{FORM} .saring-captcha .saring-ferr').textContent"
            ),
            vec![],
        )
        .await?;
    ensure!(
        cap_err.as_str().is_some_and(|s| !s.is_empty()),
        "the captcha field explains the error"
    );
    let invalid = js
        .execute(&format!("return document.querySelector('{FORM} input[name=captcha_answer]').getAttribute('aria-invalid')"), vec![])
        .await?;
    ensure!(invalid == json!("true"));
    screenshot(js, "05-wrong-captcha").await?;
    // The fresh question from the error answers fine.
    let (budi_id, status) = post_with_widget(js, &budi, None).await?;
    ensure!(
        !budi_id.is_empty() && (status == PENDING || status == PUBLISHED),
        "after a new question: `{status}`"
    );

    // Paging: two top-level comments per page (the test's saring.toml), "load more" brings the rest.
    if status == PENDING {
        approve(base, &budi_id).await?;
    }
    open_demo(js, base, "4 Komentar").await?;
    let top = "#saring-thread > .saring-list > li";
    let shown = js.find_all(Locator::Css(top)).await?.len();
    ensure!(shown == 2, "first page shows two threads, got {shown}");
    let more = wait_css(js, "#saring-thread > .saring-more").await?;
    ensure!(more.is_displayed().await?, "the load-more button shows");
    more.click().await?;
    wait_js(
        js,
        &format!("document.querySelectorAll('{top}').length === 3 && document.querySelector('#saring-thread > .saring-more').hidden"),
        "the second page and no more button",
    )
    .await?;
    wait_css(js, &format!("{top}#comment-{budi_id}")).await?;
    let focused = js
        .execute("return document.activeElement.closest('li') && document.activeElement.closest('li').id", vec![])
        .await?;
    ensure!(
        focused == json!(format!("comment-{budi_id}")),
        "focus moves to the first new comment: {focused}"
    );
    screenshot(js, "06-paged").await?;

    // A moderator closes the thread while the reader is typing: the text stays, posting stops.
    set_closed(base, true).await?;
    let late = Reader {
        name: "Budi",
        email: "budi@contoh.id",
        url: "",
        body: "Satu lagi: kapan jembatan permanennya mulai dibangun?",
    };
    let (_, status) = post_with_widget(js, &late, None).await?;
    ensure!(
        status.contains("ditutup"),
        "closed thread refuses: `{status}`"
    );
    let kept = js
        .execute(
            &format!("return document.querySelector('{FORM} textarea').value"),
            vec![],
        )
        .await?;
    ensure!(kept == json!(late.body), "the text stays after the refusal");
    let disabled = js
        .find(Locator::Css(&format!("{FORM} button[type=submit]")))
        .await?
        .attr("disabled")
        .await?;
    ensure!(disabled.is_some(), "posting is disabled");
    // A fresh load of a closed thread shows the comments and says it is closed, with no form.
    let deadline = std::time::Instant::now() + harness::DEADLINE;
    loop {
        js.goto(&format!("{base}/demo")).await?;
        let closed = wait_js_for(
            js,
            "document.querySelector('#saring-thread .saring-closed') && !document.querySelector('#saring-thread form') && !document.querySelector('#saring-thread .saring-reply')",
            "the closed note",
            std::time::Duration::from_secs(3),
        )
        .await;
        if closed.is_ok() {
            break;
        }
        ensure!(
            std::time::Instant::now() < deadline,
            "the closed thread never showed as closed"
        );
    }
    screenshot(js, "07-closed").await?;
    set_closed(base, false).await?;

    // Only the deliberate 403 and 409 may appear in the console.
    let errors: Vec<String> = severe_console_entries(driver, js)
        .await?
        .into_iter()
        .filter(|e| !(e.starts_with("[network]") && (e.contains("403") || e.contains("409"))))
        .collect();
    ensure!(errors.is_empty(), "console errors: {errors:#?}");
    Ok(())
}

async fn without_javascript(server: &Server, plain: &Client) -> Result<()> {
    let base = server.base.as_str();
    plain.goto(&format!("{base}/demo")).await?;
    let frame = wait_css(plain, "iframe[src*='/embed']").await?;
    let widget_ran = plain
        .find_all(Locator::Css("#saring-thread .saring-title"))
        .await?;
    ensure!(widget_ran.is_empty(), "scripts are off in this session");
    screenshot(plain, "08-nojs-demo").await?;
    frame.enter_frame().await?;
    wait_css(plain, "form[action^='/comments']").await?;
    let heading = plain
        .find(Locator::Css("#saring-count"))
        .await?
        .text()
        .await?;
    ensure!(
        heading.ends_with("Komentar"),
        "the plain page shows the count: `{heading}`"
    );

    let body = "Tanpa JavaScript pun bisa berkomentar. Terima kasih Warta Pesisir!";
    let fill_plain = |answer: String| async move {
        fill(plain, "textarea[name=comment]", body).await?;
        fill(plain, "input[name=author]", "Dewi Lestari").await?;
        fill(plain, "input[name=email]", "dewi@contoh.id").await?;
        fill(plain, "input[name=captcha_answer]", &answer).await?;
        plain
            .find(Locator::Css(
                "form[action^='/comments'] button[type=submit]",
            ))
            .await?
            .click()
            .await?;
        anyhow::Ok(())
    };

    // Wrong answer first: the page comes back with the message and the text kept.
    fill_plain("999".to_string()).await?;
    // The form leaves the iframe (`<base target="_top">`): look in the top-level page now.
    let alert = wait_top_css(plain, ".saring-errors").await?;
    ensure!(
        !alert.text().await?.is_empty(),
        "the error is rendered in the page"
    );
    let kept = plain
        .find(Locator::Css("textarea[name=comment]"))
        .await?
        .prop("value")
        .await?;
    ensure!(kept.as_deref() == Some(body), "the text is kept: {kept:?}");
    let name_kept = plain
        .find(Locator::Css("input[name=author]"))
        .await?
        .prop("value")
        .await?;
    ensure!(name_kept.as_deref() == Some("Dewi Lestari"));
    screenshot(plain, "09-nojs-error").await?;

    let mut question = String::new();
    for (i, part) in plain
        .find_all(Locator::Css(".saring-qpart"))
        .await?
        .iter()
        .enumerate()
    {
        if i == 1 {
            question.push_str("[ ]");
        }
        question.push_str(&part.text().await?);
    }
    let answer = solve(&question).with_context(|| format!("cannot solve `{question}`"))?;
    fill_plain(answer.to_string()).await?;
    let url = wait_for_url(plain, "#comment-").await?;
    let (page, id) = url.split_once("#comment-").unwrap_or_default();
    ensure!(page.ends_with("/demo"), "back at the article: {url}");
    let id = id.to_string();
    ensure!(!id.is_empty());
    let detail = reqwest::Client::new()
        .get(format!("{base}/api/v1/mod/comments/{id}"))
        .bearer_auth(TOKEN)
        .send()
        .await?;
    ensure!(
        detail.status().is_success(),
        "the plain form's comment exists: {}",
        detail.status()
    );
    let detail: Value = detail.json().await?;
    if detail["status"] != json!("published") {
        approve(base, &id).await?;
    }
    plain.goto(&format!("{base}/demo")).await?;
    wait_css(plain, "iframe[src*='/embed']")
        .await?
        .enter_frame()
        .await?;
    // Oldest first, two per page: follow "Muat komentar lainnya" to the newest comment.
    let mut pages = 1;
    while plain
        .find(Locator::Css(&format!("#comment-{id}")))
        .await
        .is_err()
    {
        ensure!(pages < 10, "the new comment is on none of the pages");
        plain
            .find(Locator::Css("a.saring-more"))
            .await
            .context("a link to the next page")?
            .click()
            .await?;
        pages += 1;
        wait_css(plain, "#saring-count").await?;
    }
    ensure!(pages > 1, "the plain page pages too");
    screenshot(plain, "10-nojs-after").await?;
    Ok(())
}

/// Waits for an element in the top-level page, leaving a frame the page may have replaced.
async fn wait_top_css(client: &Client, css: &str) -> Result<fantoccini::elements::Element> {
    let deadline = std::time::Instant::now() + harness::DEADLINE;
    loop {
        let _ = client.enter_parent_frame().await;
        if let Ok(el) = client.find(Locator::Css(css)).await {
            return Ok(el);
        }
        if std::time::Instant::now() > deadline {
            bail!("`{css}` never appeared in the top-level page");
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// Polls the top-level URL (leaving any frame) until it contains `needle`.
async fn wait_for_url(client: &Client, needle: &str) -> Result<String> {
    let deadline = std::time::Instant::now() + harness::DEADLINE;
    loop {
        let _ = client.enter_parent_frame().await;
        if let Ok(url) = client.current_url().await
            && url.as_str().contains(needle)
        {
            return Ok(url.to_string());
        }
        if std::time::Instant::now() > deadline {
            bail!("the browser never reached a URL with `{needle}`");
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
