@serial
Feature: The holder is told before a purge, and may snooze it once
  `purge_notice.before` the next purge of an assigned account (the next maintenance
  window, or its lease end if sooner), spa runs the purge as a dry run, which deletes
  nothing and changes no state, and tells the holder by e-mail what it would delete,
  counted by resource type, with a few names: the list is read from the reports
  bucket, where the purge buildspec writes aws-nuke's output. Everything in it comes
  from the holder's account, so it is shown as plain, cut text. The holder may put
  the purge off once, by at most `purge_notice.snooze` (`/spa snooze` in Slack, or an
  operator's `spa snooze`): the maintenance window then leaves the account alone, and
  the sweeper purges it when the snooze ends.

  Here spa runs on the emulator (moto) as in "Accounts on the emulator". moto runs no
  buildspec, so the scenario writes the dry run's list where the buildspec would and
  reports the builds' ends itself; the e-mail is read back from moto's SES.

  Background:
    Given the organizational units:
      | unit         | parent |
      | ou-sandboxes | root   |
    And spa manages "ou-sandboxes" with the settings:
      """
      preparation: {feature: enabled}
      purge: {feature: enabled, variables: {PURGE_MODE: --no-dry-run}}
      purge_notice: {before: 7d, snooze: 3d}
      """
    And the reporting settings:
      """
      bucket: spa-features-reports
      """
    And the notification routes:
      """
      default:
        channels: [email]
      """
    And the accounts:
      | account | unit         | holder           |
      | jane    | ou-sandboxes | jane@example.com |
    And AWS Organizations reported that every account was created
    And "jane" is "assigned"
    And the scenario reports the ends of builds itself

  Scenario: the holder reads what the purge will delete, counted by type, and how to snooze
    When EventBridge Scheduler runs the sweeper 0 hours later
    Then "jane" is "assigned"
    And "jane" awaits the dry run of its next purge
    And "jane" waits for no build
    When the dry run of "jane" ends SUCCEEDED with the list:
      """
      us-east-1 - EC2Instance - i-0abc - [Name: "web"] - would remove
      us-east-1 - EC2Instance - i-0def - [] - would remove
      eu-west-1 - S3Bucket - <script>alert(1)</script> - [] - would remove
      us-east-1 - IAMRole - SpaFeatures-CodeBuildRole - [] - filtered by config
      """
    Then "jane" is "assigned"
    And "jane" waits for no build
    And "jane@example.com" was told by e-mail that "jane" will be purged, with:
      """
      A dry run of the purge lists 3 resources it would delete, by type
      EC2Instance: 2 (i-0abc, i-0def)
      S3Bucket: 1 (scriptalert1/script)
      /spa snooze ACCOUNT [DURATION]
      by at most 3d
      """
    And the history of "jane" includes PurgeNotice

  Scenario: a failed dry run still tells the holder when the purge is
    Given EventBridge Scheduler ran the sweeper 0 hours later
    When the dry run of "jane" ends FAILED
    Then "jane" is "assigned"
    And "jane@example.com" was told by e-mail that "jane" will be purged, with:
      """
      What it will delete is not listed: its dry run ended FAILED.
      """

  Scenario: the holder snoozes once; the window leaves the account alone; the sweeper purges it when the snooze ends
    Given EventBridge Scheduler ran the sweeper 0 hours later
    When "john@example.com" snoozes the purge of "jane"
    Then spa said no to "jane" because "only the holder of the account may snooze its purge"
    And "jane" has none of the tags account-snoozed-until
    When "jane@example.com" snoozes the purge of "jane" by 4d
    Then spa said no to "jane" because "a snooze is more than 0 and at most 3d; asked 4d"
    When "jane@example.com" snoozes the purge of "jane"
    Then the purge of "jane" is put off by 3 days
    And the history of "jane" includes PurgeSnoozed
    When "jane@example.com" snoozes the purge of "jane" by 1d
    Then spa said no to "jane" because "the purge was snoozed once already, until"
    When EventBridge Scheduler opens the maintenance window
    Then "jane" is "assigned"
    And spa said no to "jane" because "the holder snoozed the purge until"
    When EventBridge Scheduler runs the sweeper 11 days later
    Then "jane" waits for its purge build, attempt 1
    And "jane" has none of the tags account-snoozed-until
    And "jane" is held by "jane@example.com"
