Feature: Searches and scans across the managed accounts
  `spa find` (and Slack's `/spa find`) looks for an EC2 instance by id, private IP or
  ARN in every managed account and region at once; an account that does not answer
  is named, and the others still answer. The access-key scan reads the IAM users of
  every managed account through the member role: active keys older than
  `stale_access_key_age`, or unused for longer than `unused_access_key_age`, and
  users with a console password raise `StaleAccessKey`, once per account and day.
  The member accounts are in-memory doubles here; `engine/local/tests/local/aws_scans.rs` runs
  the same on the emulator.

  Background:
    Given the managed accounts "111111111111, 222222222222, 333333333333" in regions "eu-west-1, us-east-1"
    And the instances:
      | account      | region    | instance            | private ip | name   |
      | 111111111111 | eu-west-1 | i-0aaaaaaaaaaaaaaa1 | 10.0.1.10  | api    |
      | 222222222222 | us-east-1 | i-0bbbbbbbbbbbbbbb2 | 10.0.2.20  | worker |
      | 333333333333 | eu-west-1 | i-0ccccccccccccccc3 | 10.0.1.10  | db     |

  Rule: a search asks every account and region, and says where it could not look

    Scenario: an instance is found by its id in the one account and region it is in
      When the operator searches for "i-0bbbbbbbbbbbbbbb2"
      Then the search finds "i-0bbbbbbbbbbbbbbb2" in "222222222222" "us-east-1" named "worker"
      And 6 account-region pairs were searched with no failure

    Scenario: a private IP used in two accounts finds both
      When the operator searches for "10.0.1.10"
      Then the search finds "i-0aaaaaaaaaaaaaaa1" in "111111111111" "eu-west-1" named "api"
      And the search finds "i-0ccccccccccccccc3" in "333333333333" "eu-west-1" named "db"

    Scenario: an ARN searches its account and region only
      When the operator searches for "arn:aws:ec2:eu-west-1:333333333333:instance/i-0ccccccccccccccc3"
      Then the search finds "i-0ccccccccccccccc3" in "333333333333" "eu-west-1" named "db"
      And 1 account-region pairs were searched with no failure

    Scenario: an account without the member role is listed as failed, the others answer
      Given the member role of "222222222222" is missing
      When the operator searches for "10.0.1.10"
      Then the search finds "i-0aaaaaaaaaaaaaaa1" in "111111111111" "eu-west-1" named "api"
      And the search lists "222222222222" as failed because "denied"

    Scenario: a query that is none of an id, an IP or an ARN says what was expected
      When the operator searches for "web-server"
      Then the search is refused with "expected an instance id"

  Rule: the access-key scan raises StaleAccessKey once per account and day

    Background:
      Given the IAM users:
        | account      | user   | key                  | created days ago | last used days ago | console password |
        | 111111111111 | ci     | AKIAEXAMPLEKEY000001 | 200              | 1                  | no               |
        | 111111111111 | alice  |                      |                  |                    | yes              |
        | 222222222222 | bob    | AKIAEXAMPLEKEY000002 | 40               | never              | no               |
        | 333333333333 | carol  | AKIAEXAMPLEKEY000003 | 10               | 0                  | no               |

    Scenario: the scheduled scan reports old keys, unused keys and console passwords
      Given the access-key scan is on
      When the access-key scan runs
      Then StaleAccessKey is raised for "111111111111" with "AKIA…0001" and "alice"
      And StaleAccessKey is raised for "222222222222" with "AKIA…0002"
      And no StaleAccessKey is raised for "333333333333"
      And no access key id is shown in clear

    Scenario: a second run the same day raises nothing again
      Given the access-key scan is on
      When the access-key scan runs
      And the access-key scan runs again 3 hours later
      Then 2 StaleAccessKey exceptions were raised in all

    Scenario: with the scan off the job reads nothing
      When the access-key scan runs
      Then the scan says "access_key_scan is off"
      And no StaleAccessKey is raised for "111111111111"
