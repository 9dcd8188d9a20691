//! What spa knows of an account between two transitions ([`crate::ports::AccountCache`]):
//! a maintenance cycle asks Organizations only to write tags and reads no member
//! footprint it ensured already; whatever a person changes is read again.

use super::*;
use crate::ports::PortError;

/// The calls of the cycle's reactions to Organizations and the build service.
fn calls(world: &World) -> [usize; 6] {
    let org = &world.platform.organization.calls;
    let builds = &world.platform.builds.calls;
    [
        org.of("tags"),
        org.of("ancestors"),
        org.of("describe_account") + org.of("describe_unit"),
        org.of("change_tags"),
        builds.of("ensure_footprint"),
        builds.of("start_build"),
    ]
}

fn since(after: [usize; 6], before: [usize; 6]) -> [usize; 6] {
    let mut delta = [0; 6];
    for (n, slot) in delta.iter_mut().enumerate() {
        *slot = after[n] - before[n];
    }
    delta
}

/// A world where spa has seen every managed account: `NESTED` assigned to Jane,
/// `NO_BUILDS` in the pool (the window's commands reach both).
async fn known_world() -> World {
    let world = World::new();
    world.assign(NESTED, JANE).await;
    world.onboard(NO_BUILDS).await;
    world
}

/// The window's command, then the ends of the purge and the preparation.
async fn cycle(world: &World, account: &str) {
    world.dispatch(&world.job(Job::MaintenanceWindow)).await;
    world.drain().await;
    assert_eq!(world.state(account).as_deref(), Some("expired"));
    world
        .dispatch(&world.finished(account, BuildStatus::Succeeded))
        .await;
    world
        .dispatch(&world.finished(account, BuildStatus::Succeeded))
        .await;
    assert_eq!(world.state(account).as_deref(), Some("assigned"));
}

#[tokio::test]
async fn a_maintenance_cycle_asks_organizations_only_to_write_tags() {
    let world = known_world().await;
    let before = calls(&world);
    cycle(&world, NESTED).await;
    // tags read, ancestors read, accounts or units described, tag writes (one per
    // transition: the build's id goes with the state), footprints ensured, builds
    assert_eq!(since(calls(&world), before), [0, 0, 0, 3, 0, 2]);
    // a pool account refuses the window's command without a call either
    let before = calls(&world);
    world.dispatch(&world.job(Job::MaintenanceWindow)).await;
    world.drain().await;
    let pool = since(calls(&world), before);
    assert_eq!(pool[..3], [0, 0, 0], "{pool:?}");
}

#[tokio::test]
async fn tags_changed_by_a_person_are_read_again() {
    let world = known_world().await;
    let cost_center = world.engine().codec().cost_center_key().to_owned();
    world
        .dispatch(&world.tagged(NESTED, &[(&cost_center, "CC-42")]))
        .await;
    let before = calls(&world);
    cycle(&world, NESTED).await;
    let delta = since(calls(&world), before);
    assert_eq!(
        delta[0], 1,
        "the window's command reads the tags again: {delta:?}"
    );
    assert_eq!(world.tag(NESTED, &cost_center).as_deref(), Some("CC-42"));
    // a lifecycle tag removed by hand: read again, and the drift is seen
    world.org().remove_tags(NESTED, &["account-holder"]);
    let untagged = world.organizations(
        OrganizationsCall::UntagResource {
            resource: ResourceId::Account(id(NESTED)),
            keys: vec!["account-holder".into()],
        },
        person(),
    );
    world.dispatch(&untagged).await;
    let before = calls(&world);
    world.dispatch(&world.job(Job::MaintenanceWindow)).await;
    world.drain().await;
    assert_eq!(since(calls(&world), before)[0], 1);
}

#[tokio::test]
async fn an_account_moved_or_listed_elsewhere_is_placed_again() {
    let world = known_world().await;
    // moved between managed OUs: the event puts its place in doubt
    world
        .dispatch(&world.moved(NESTED, "ou-ab12-sandbox1"))
        .await;
    let before = calls(&world);
    cycle(&world, NESTED).await;
    assert_eq!(since(calls(&world), before)[1], 1, "read once, then known");
    // moved while the event was lost: the window lists it under its new parent
    world.org().place(NESTED, "ou-ab12-team0001");
    let before = calls(&world);
    cycle(&world, NESTED).await;
    assert_eq!(since(calls(&world), before)[1], 1);
}

#[tokio::test]
async fn a_build_that_cannot_start_has_its_footprint_ensured_again() {
    let world = known_world().await;
    world.platform.builds.faults.fail(
        "start_build",
        PortError::Unavailable {
            service: "codebuild".into(),
            message: "down".into(),
        },
        3,
    );
    world.dispatch(&world.job(Job::MaintenanceWindow)).await;
    let commands = batch(world.platform.commands.take());
    let failed = world.dispatch(&commands).await;
    assert_eq!(failed.batch_item_failures, ["m-0"], "{failed:#?}");
    let before = calls(&world);
    world.advance(TimeDelta::minutes(10));
    world.dispatch(&commands).await;
    assert_eq!(world.state(NESTED).as_deref(), Some("expired"));
    assert_eq!(since(calls(&world), before)[4], 1, "ensured in full again");
}

#[tokio::test]
async fn the_inventory_reads_what_spa_knows_and_asks_only_about_the_others() {
    let world = known_world().await;
    let before = calls(&world);
    let accounts = crate::report_accounts(&world.engine(), &[]).await.unwrap();
    let delta = since(calls(&world), before);
    // the account outside the managed OUs is read from Organizations, the others not
    assert_eq!(delta[..2], [1, 1], "{delta:?}");
    let nested = accounts.iter().find(|a| a.id.as_str() == NESTED).unwrap();
    assert_eq!(nested.state.as_deref(), Some("assigned"));
    assert_eq!(nested.holder.as_deref(), Some(JANE));
    assert_eq!(nested.ou_path, "Root/Sandboxes/Team");
    let outside = accounts.iter().find(|a| a.id.as_str() == OUTSIDE).unwrap();
    assert_eq!(outside.ou_path, "Root/Outside");
}

async fn held_by(world: &World, email: &str) -> Vec<String> {
    use crate::ports::WriterLeases;
    let holder = spa_core::lifecycle::Holder::new(email).unwrap();
    world
        .platform
        .store
        .held_by(&crate::holders::fingerprint(&holder))
        .await
        .unwrap()
        .into_keys()
        .map(|a| a.to_string())
        .collect()
}

#[tokio::test]
async fn the_holder_index_follows_assignments() {
    let world = known_world().await;
    assert_eq!(held_by(&world, JANE).await, [NESTED]);
    assert!(held_by(&world, JOHN).await.is_empty());
    // re-tagged by hand to John: the index follows the tags spa reads again
    world
        .dispatch(&world.tagged(NESTED, &[("account-holder", JOHN)]))
        .await;
    assert!(held_by(&world, JANE).await.is_empty());
    assert_eq!(held_by(&world, JOHN).await, [NESTED]);
    // case does not matter, as in the tags
    assert_eq!(held_by(&world, "John.Roe@Example.com").await, [NESTED]);
}

#[tokio::test]
async fn the_inventory_seeds_what_no_writer_knew_and_never_overwrites_a_writer() {
    let world = World::new();
    world.assign(NESTED, JANE).await;
    // tags set before spa was upgraded: no writer ever knew the account
    world.org().set_tags(
        NO_BUILDS,
        &[
            ("account-state", "assigned"),
            ("account-since", "2025-02-01T08:00:00Z"),
            ("account-holder", JOHN),
        ],
    );
    assert!(held_by(&world, JOHN).await.is_empty());
    crate::report_accounts(&world.engine(), &[]).await.unwrap();
    assert_eq!(held_by(&world, JOHN).await, [NO_BUILDS]);
    // the writer's cache of Jane's account is kept as it was
    assert_eq!(held_by(&world, JANE).await, [NESTED]);
    // the account's first transition decides on what the inventory read
    let before = calls(&world);
    world.dispatch(&world.job(Job::MaintenanceWindow)).await;
    world.drain().await;
    assert_eq!(since(calls(&world), before)[..2], [0, 0]);
}
