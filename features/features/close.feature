@serial
Feature: Closing an account when its holder leaves
  `spa close ACCOUNT` (it asks first, or `--yes`) ends the holder's assignment, purges
  the account one last time, writes its final cost report to the reports bucket, then
  AWS Organizations closes it (or, when the settings
  name a `suspended_unit`, spa moves it there). The account leaves spa's management;
  its history stays, readable with `spa events list --account`. While it closes,
  nobody is given it. Only an operator's command closes an account: a holder, who
  administers their account, can neither close another one nor keep theirs.

  Here spa runs on the emulator (moto), as in "Accounts on the emulator".

  Background:
    Given the organizational units:
      | unit         | parent |
      | ou-sandboxes | root   |
    And spa manages "ou-sandboxes" with the settings:
      """
      preparation: {feature: enabled}
      purge: {feature: enabled, variables: {PURGE_MODE: --no-dry-run}}
      """
    And the reporting settings:
      """
      bucket: spa-features-reports
      """
    And the accounts:
      | account | unit         | holder              |
      | jane    | ou-sandboxes | jane@example.com    |
      | mallory | ou-sandboxes | mallory@example.com |
    And AWS Organizations reported that every account was created
    And "jane" is "assigned"

  Scenario: an operator closes jane's account: a last purge, then AWS closes it, and its history stays
    When an operator closes "jane"
    Then "jane" is unmanaged
    And "jane" has no holder
    And "jane" has none of the tags account-state, account-closing, account-transaction, account-attempts
    And spa started 0 preparation builds and 1 purge build for "jane"
    And "jane" is closed in AWS Organizations
    And the final cost report of "jane" is in the reports bucket
    And the history of "jane" includes AccountVended, AccountAssigned, AccountExpired, AccountPurged, AccountUnmanaged
    And "mallory" is "assigned"
    And "mallory" is active in AWS Organizations

  Scenario: while its last purge runs, the account is given to nobody
    Given the scenario reports the ends of builds itself
    When an operator closes "jane"
    Then "jane" is "expired"
    And "jane" has no holder
    When an operator assigns "jane" to "john@example.com"
    Then "jane" has no holder
    When the purge build of "jane" ends SUCCEEDED
    Then "jane" is unmanaged
    And "jane" is closed in AWS Organizations

  Scenario: a holder who forwards a forged close of another account closes nothing
    When the holder of "mallory" forwards an Organizations event saying that "jane" was closed
    Then the message is refused, not retried, because "account {mallory} may not report `CloseAccount` to spa: Organizations events come from the management account {management}"
    And "jane" is "assigned"
    And "jane" is active in AWS Organizations
