@serial
Feature: Spend stopped within the minute
  AWS Budgets and Cost Explorer see spending hours late. With its spend guard on, an
  account forwards the calls that start spending as they happen; spa prices what runs
  and acts on the lines of its settings: tell the holder, raise `SpendProjected`,
  freeze the account (a deny-all-but-read service control policy, its data kept) until
  an operator unfreezes it. An account that makes no such call is judged once a day
  too, on what Cost Explorer says its month cost so far. Here spa runs on the emulator (moto) as in
  accounts.feature: the policy is read back from Organizations, the chat message from a
  real local webhook server, the holder's e-mail from SES.

  Background:
    Given the organizational units:
      | unit         | parent |
      | ou-sandboxes | root   |
    And spa manages "ou-sandboxes" with the settings:
      """
      preparation: {feature: enabled}
      spend_guard:
        feature: enabled
        thresholds:
          - {when: hourly_burn, over: 100, actions: [tell_holder, raise, freeze]}
      """
    And chat webhooks that record what they receive
    And the notification routes:
      """
      default:
        channels: [slack]
      """
    And the accounts:
      | account | unit         | holder              |
      | jane    | ou-sandboxes | jane@example.com    |
      | mallory | ou-sandboxes | mallory@example.com |

  Scenario: four p4d.24xlarge freeze an assigned account within the one handling
    Given AWS Organizations reported that "jane" was created
    And "jane" is "assigned"
    When the holder of "jane" starts 4 "p4d.24xlarge" instances
    Then "jane" is "frozen"
    And "jane" has the tags:
      | key                 | value    |
      | account-frozen-from | assigned |
    And the freeze policy is attached to "jane"
    And the history of "jane" includes AccountFrozen, SpendProjected
    And Slack received 1 message about "jane" that says "SpendProjected"
    And "jane" was told by e-mail

  Scenario: an operator unfreezes the account: back to its holder, the policy detached
    Given AWS Organizations reported that "jane" was created
    And the holder of "jane" started 4 "p4d.24xlarge" instances
    When an operator unfreezes "jane"
    Then "jane" is "assigned"
    And "jane" is held by "jane@example.com"
    And "jane" has none of the tags account-frozen-from
    And the freeze policy is not attached to "jane"

  Scenario: the same call delivered twice freezes once and tells once
    Given AWS Organizations reported that "jane" was created
    When the holder of "jane" starts 4 "p4d.24xlarge" instances and the call is delivered twice
    Then "jane" is "frozen"
    And Slack received 1 message about "jane" that says "SpendProjected"

  Scenario: under the line, the account runs on
    Given AWS Organizations reported that "jane" was created
    When the holder of "jane" starts 2 "t3.micro" instances
    Then "jane" is "assigned"
    And the freeze policy is not attached to "jane"
    And Slack received 0 messages about "jane" that says "SpendProjected"

  Scenario: a holder cannot get another account frozen
    Given AWS Organizations reported that "jane" was created
    And AWS Organizations reported that "mallory" was created
    When the holder of "mallory" forwards a call that says it started 4 "p4d.24xlarge" instances in "jane"
    Then "jane" is "assigned"
    And "mallory" is "assigned"
    And the freeze policy is not attached to "jane"
    And Slack received 0 messages about "jane" that says "SpendProjected"

  Scenario: an account that makes no call is frozen by the daily reconciliation
    Given spa manages "ou-sandboxes" with the settings:
      """
      preparation: {feature: enabled}
      spend_guard:
        feature: enabled
        thresholds:
          - {when: actual_month, over: 500, actions: [raise, freeze]}
      """
    And AWS Organizations reported that "jane" was created
    And AWS Organizations reported that "mallory" was created
    And "jane" is "assigned"
    And "mallory" is "assigned"
    And the daily costs:
      | account | service           | from       | to         | a day |
      | jane    | AWS Data Transfer | 2026-11-01 | 2026-11-20 | 30.00 |
      | mallory | Amazon S3         | 2026-11-01 | 2026-11-20 | 1.00  |
    When EventBridge Scheduler runs the digest of 2026-11-21
    Then "jane" is "frozen"
    And the freeze policy is attached to "jane"
    And the history of "jane" includes AccountFrozen
    And Slack received 1 message about "jane" that says "SpendProjected"
    And "mallory" is "assigned"
    And the freeze policy is not attached to "mallory"
