@serial
Feature: A holder cannot speak for spa, nor for another account
  Every holder administers the account spa manages, so whatever comes from a member
  account may be forged (ARCHITECTURE.md, "Threat model"). Here two holders try, on the
  emulator (moto), what their account lets them do: publish on their own budget alerts
  topic, put one of spa's own events on spa's bus, forward an Organizations record of
  their own. spa refuses each with one log line and a `Refused` count, and tells nobody.

  Background:
    Given the organizational units:
      | unit         | parent |
      | ou-sandboxes | root   |
    And spa manages "ou-sandboxes" with the settings:
      """
      budget: {amount: 100, currency: USD, thresholds: [80, 100]}
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

  Scenario: a budget alert about another account, published on the holder's own topic, is refused
    Given AWS Organizations reported that "jane" was created
    And AWS Organizations reported that "mallory" was created
    When the holder of "mallory" publishes on their own budget alerts topic an alert that names "jane"
    Then the message is refused, not retried, because "account {mallory} may not say a budget alert of account {jane}"
    And Slack received 0 messages about "jane" that says "BudgetAlert"

  Scenario: the same alert about the holder's own account is taken
    Given AWS Organizations reported that "mallory" was created
    When the holder of "mallory" publishes on their own budget alerts topic an alert that names "mallory"
    Then Slack received 1 message about "mallory" that says "BudgetAlert"

  Scenario: one of spa's own events put on spa's bus by a member account is refused
    Given AWS Organizations reported that "jane" was created
    And AWS Organizations reported that "mallory" was created
    When the holder of "mallory" puts on spa's bus an event saying that "jane" was quarantined
    Then the bus routes it nowhere
    And the message is refused, not retried, because "account {mallory} may not say `AccountQuarantined` about account {jane}: only the automation account {automation} speaks as spa"
    And Slack received 0 messages about "jane" that says "AccountQuarantined"

  Scenario: an Organizations event forwarded by a member account is refused
    Given AWS Organizations reported that "jane" was created
    And AWS Organizations reported that "mallory" was created
    When the holder of "mallory" forwards an Organizations event saying that "jane" was closed
    Then the message is refused, not retried, because "account {mallory} may not report `CloseAccount` to spa: Organizations events come from the management account {management}"
    And nothing changed for "jane"
