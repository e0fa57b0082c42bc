//! Sign-in and sign-out with a bearer token: refused tokens show the API's refusal, the token is
//! kept for the tab only and never shows in a URL.

use serde_json::json;

use dispatch_proto::v1 as pb;

use crate::setup;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_shows_who_and_sign_out_forgets_the_token() {
    let Some((browser, server)) = setup::start("signin").await else {
        return;
    };
    let (_, token) = server.person(pb::Role::CallTaker, "test-calltaker").await;
    let me = server.whoami(&token).await.principal.expect("principal");
    let console = browser.console(&server).await;

    // The cursor starts in the token field.
    console
        .wait_for("the sign-in form", "[data-testid=signin-token]")
        .await;
    assert_eq!(console.focused().await, "signin-token");
    console.screenshot("signin").await;

    // A token the server does not know: the API's UNAUTHENTICATED refusal, still signed out.
    console
        .type_into("[data-testid=signin-token]", "not-a-real-token-0123456789")
        .await;
    console.click("[data-testid=signin-submit]").await;
    console
        .wait_for(
            "the UNAUTHENTICATED refusal",
            "[data-testid=refusal][data-code=UNAUTHENTICATED]",
        )
        .await;
    assert!(!console.exists("[data-testid=whoami]").await);
    assert_eq!(
        console.eval("return sessionStorage.length;", vec![]).await,
        json!(0),
        "a refused token is not kept"
    );
    console.screenshot("signin-refused").await;

    // The real token: who is signed in, with the role's name (Spanish first, then English).
    console
        .eval(
            "const i = document.querySelector('[data-testid=signin-token]'); i.select();",
            vec![],
        )
        .await;
    console.keys(token.as_str()).await;
    console.click("[data-testid=signin-submit]").await;
    console
        .wait_for("who is signed in", "[data-testid=whoami]")
        .await;
    let whoami = console.text("[data-testid=whoami]").await;
    assert!(
        whoami.contains(&me.display_name),
        "whoami shows the name {:?}: {whoami:?}",
        me.display_name
    );
    assert_eq!(
        console.text("[data-testid=role]").await,
        "Operador de llamadas"
    );
    console.click("[data-testid=lang-en]").await;
    console
        .until(
            "the role in English",
            "document.querySelector('[data-testid=role]').textContent === 'Call taker'",
        )
        .await;
    assert!(
        !console.url().await.contains(&token),
        "the token is in the URL"
    );
    console.screenshot("signed-in").await;

    // The token is kept for this tab (a reload keeps the session) and never in a URL or a request
    // line the page made.
    let stored = console
        .eval(
            "return Object.keys(sessionStorage).map((k) => sessionStorage.getItem(k));",
            vec![],
        )
        .await;
    assert_eq!(
        stored,
        json!([token]),
        "the token is in sessionStorage, once"
    );
    let in_urls = console
        .eval(
            "return [location.href, ...performance.getEntries().map((e) => e.name)]\
             .filter((u) => u.includes(arguments[0]));",
            vec![json!(token)],
        )
        .await;
    assert_eq!(in_urls, json!([]), "URLs that carry the token");
    console.reload().await;
    console
        .wait_for("who is signed in after a reload", "[data-testid=whoami]")
        .await;

    // Sign-out: back to the sign-in form, and the token is gone from the tab.
    console.click("[data-testid=signout]").await;
    console.assert_signed_out("the sign-in form again").await;
    assert_eq!(
        console
            .eval(
                "return Object.values(sessionStorage).filter((v) => v.includes(arguments[0])).length;",
                vec![json!(token)],
            )
            .await,
        json!(0),
        "the token is still in sessionStorage after signing out"
    );
    assert!(
        !console.url().await.contains(&token),
        "the token is in the URL"
    );
    // A reload after signing out stays signed out.
    console.reload().await;
    console
        .assert_signed_out("the sign-in form after a reload")
        .await;
    console.screenshot("signed-out").await;

    // Nothing the page wrote to its console carries the token, and nothing threw (the probe
    // shows the log is really read).
    console
        .eval("console.log('console-log-probe');", vec![])
        .await;
    let log = console.log().await;
    assert!(
        log.iter().any(|line| line.contains("console-log-probe")),
        "the page's console is not read: {log:?}"
    );
    assert!(
        !log.iter().any(|line| line.contains(&token)),
        "the token is in the page's console: {log:?}"
    );
    assert!(
        !log.iter().any(|line| line.contains("Uncaught")),
        "uncaught errors: {log:?}"
    );
}
