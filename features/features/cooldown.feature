@serial
Feature: A cooldown between holders
  After a purge, an account waits `cooldown` before a new holder gets it, so that the
  last holder's late bills and quotas do not land on the next one. spa writes the end
  of the cooldown in the account's tag `account-cooldown-until` when the purge ends.
  An operator who assigns the account meanwhile is told when it ends; a holder tagged
  meanwhile waits, and the sweeper gives them the account once it is over. A holder
  who keeps the account through maintenance is not held back.

  Here spa runs on the emulator (moto) as in "Accounts on the emulator": the sweeper
  runs at the time the scenario says, the rest at the time of the run.

  Background:
    Given the organizational units:
      | unit         | parent |
      | ou-sandboxes | root   |
    And spa manages "ou-sandboxes" with the settings:
      """
      preparation: {feature: enabled}
      purge: {feature: enabled, variables: {PURGE_MODE: --no-dry-run}}
      lease: 1d
      cooldown: 72h
      """
    And the accounts:
      | account | unit         | holder           |
      | jane    | ou-sandboxes | jane@example.com |
    And AWS Organizations reported that every account was created
    And "jane" is "assigned"

  Scenario: jane's lease ends: the account is purged, prepared, and cools down in the pool
    When EventBridge Scheduler runs the sweeper 2 days later
    Then "jane" is "prepared"
    And "jane" has no holder
    And the history of "jane" includes AccountExpired, AccountPurged, AccountPrepared, MaintenanceCompleted
    And "jane" cools down until 72 hours after its purge

  Scenario: an operator who assigns the account during the cooldown is told when it ends
    Given EventBridge Scheduler ran the sweeper 2 days later
    When an operator assigns "jane" to "john@example.com"
    Then spa refused to assign "jane" because "the account cools down after its last purge until"
    And "jane" is "prepared"
    And "jane" has no holder

  Scenario: a holder tagged during the cooldown waits, and the sweeper gives them the account when it ends
    Given EventBridge Scheduler ran the sweeper 2 days later
    When a person tags "jane" with:
      | key            | value            |
      | account-holder | john@example.com |
    Then "jane" is "prepared"
    And "jane" is held by "john@example.com"
    When EventBridge Scheduler runs the sweeper 48 hours later
    Then "jane" is "prepared"
    When EventBridge Scheduler runs the sweeper 4 days later
    Then "jane" is "assigned"
    And "jane" is held by "john@example.com"

  Scenario: the maintenance window keeps the holder, whatever the cooldown its purge starts
    When EventBridge Scheduler opens the maintenance window
    Then "jane" is "assigned"
    And "jane" is held by "jane@example.com"
    And "jane" cools down until 72 hours after its purge
