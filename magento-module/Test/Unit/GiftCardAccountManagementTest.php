<?php
declare(strict_types=1);

namespace Tillbridge\Connector\Test\Unit;

use Magento\Framework\Exception\InputException;
use Magento\Framework\Exception\NoSuchEntityException;
use Magento\Framework\Module\Manager;
use Magento\Framework\Webapi\Exception as WebapiException;
use PHPUnit\Framework\TestCase;
use Tillbridge\Connector\Model\GiftCard\AccountManagement;
use Tillbridge\Connector\Model\GiftCard\Adjustment;
use Tillbridge\Connector\Model\GiftCard\AdjustmentLog;
use Tillbridge\Connector\Model\GiftCard\GiftCard;
use Tillbridge\Connector\Test\Support\InMemoryAccountStore;
use Tillbridge\Connector\Test\Support\Paging;
use Tillbridge\Connector\Test\Support\World;

final class GiftCardAccountManagementTest extends TestCase
{
    private World $world;
    private InMemoryAccountStore $store;
    private AccountManagement $api;

    protected function setUp(): void
    {
        $this->world = new World();
        $this->store = new InMemoryAccountStore($this->world->clock);
        $this->api = $this->management(['Magento_GiftCardAccount']);
    }

    public function testWithoutAdobeCommerceEveryRouteAnswers501WithTheReason(): void
    {
        $api = $this->management([]);
        $calls = [
            static fn () => $api->get('GC-1'),
            static fn () => $api->getList(new Paging(10, 1)),
            static fn () => $api->create((new GiftCard())->setCode('GC-1')->setBalance(10.0)),
            static fn () => $api->adjust('GC-1', (new Adjustment())->setAmount(5.0)->setIdempotencyKey('k1')),
            static fn () => $api->getHistory(),
        ];
        foreach ($calls as $call) {
            try {
                $call();
                self::fail('expected a 501');
            } catch (WebapiException $e) {
                self::assertSame(501, $e->getHttpCode());
                self::assertStringContainsString('Gift card accounts need Adobe Commerce', $e->getMessage());
                self::assertStringContainsString('Magento_GiftCardAccount', $e->getMessage());
            }
        }
    }

    public function testCreateThenGetReturnsTheAccount(): void
    {
        $created = $this->api->create((new GiftCard())->setCode(' GC-100 ')->setBalance(25.5)->setCurrencyCode('USD'));
        $read = $this->api->get('GC-100');

        self::assertSame(
            ['GC-100', 25.5, 'USD', 1, 0, true, 1],
            [$created->getCode(), $created->getBalance(), $created->getCurrencyCode(), $created->getStatus(),
                $created->getState(), $created->getIsRedeemable(), $created->getWebsiteId()]
        );
        self::assertEquals($created, $read);
        self::assertEquals($created, $this->api->get('gc-100'), 'codes match case-insensitively, as in MySQL');
        self::assertSame('2026-09-21 14:13:20', $read->getUpdatedAt());
    }

    public function testCreatingAnExistingCodeIsRefused(): void
    {
        $this->api->create((new GiftCard())->setCode('GC-1')->setBalance(10.0));

        try {
            $this->api->create((new GiftCard())->setCode('GC-1')->setBalance(99.0));
            self::fail('expected an InputException (400)');
        } catch (InputException $e) {
            self::assertStringContainsString('A gift card account with code "GC-1" already exists', $e->getMessage());
        }
        self::assertSame(10.0, $this->store->balance('GC-1'));
    }

    /** @dataProvider invalidCards */
    public function testInvalidCardsAreRefusedWithTheFieldNamed(GiftCard $card, string $field): void
    {
        $this->expectException(InputException::class);
        $this->expectExceptionMessage($field);

        $this->api->create($card);
    }

    /** @return array<string, array{GiftCard, string}> */
    public static function invalidCards(): array
    {
        return [
            'empty code' => [(new GiftCard())->setCode(' ')->setBalance(1.0), '"code"'],
            'negative balance' => [(new GiftCard())->setCode('A')->setBalance(-1.0), '"balance"'],
            'bad currency' => [(new GiftCard())->setCode('A')->setBalance(1.0)->setCurrencyCode('usd'), '"currency_code"'],
            'bad status' => [(new GiftCard())->setCode('A')->setBalance(1.0)->setStatus(2), '"status"'],
            'bad expiry' => [(new GiftCard())->setCode('A')->setBalance(1.0)->setDateExpires('31/12/2027'), '"date_expires"'],
            'other currency' => [(new GiftCard())->setCode('A')->setBalance(1.0)->setCurrencyCode('EUR'), 'base currency USD'],
        ];
    }

    public function testListPagesThroughTheAccounts(): void
    {
        foreach (['GC-1', 'GC-2', 'GC-3'] as $code) {
            $this->api->create((new GiftCard())->setCode($code)->setBalance(5.0));
        }

        $page = $this->api->getList(new Paging(2, 2));

        self::assertSame(3, $page->getTotalCount());
        self::assertSame(['GC-3'], array_map(static fn ($card): string => $card->getCode(), $page->getItems()));
    }

    public function testUnknownCodeIsNotFound(): void
    {
        $this->expectException(NoSuchEntityException::class);
        $this->expectExceptionMessage('Gift card "NOPE" does not exist.');

        $this->api->get('NOPE');
    }

    public function testAnAdjustmentIsAppliedOncePerIdempotencyKey(): void
    {
        $this->api->create((new GiftCard())->setCode('GC-7')->setBalance(50.0));
        $spend = (new Adjustment())->setAmount(-20.0)->setIdempotencyKey('hl-adj-991')->setReason('POS sale 1001');

        $first = $this->api->adjust('GC-7', $spend);
        $again = $this->api->adjust('GC-7', $spend);
        $topUp = $this->api->adjust('GC-7', (new Adjustment())->setAmount(5.25)->setIdempotencyKey('hl-adj-992'));

        self::assertSame(30.0, $first->getBalance());
        self::assertSame(30.0, $again->getBalance());
        self::assertSame(35.25, $topUp->getBalance());
        self::assertSame(0, $topUp->getState());
        $spent = $this->api->adjust('gc-7', (new Adjustment())->setAmount(-35.25)->setIdempotencyKey('hl-adj-993'));
        self::assertSame([0.0, 1], [$spent->getBalance(), $spent->getState()], 'a card at zero is "used"');
        self::assertSame(3, $this->store->changes);
        $logged = $this->world->db->fetchAll('SELECT idempotency_key, code, amount, reason, balance_after FROM tillbridge_giftcard_adjustment ORDER BY adjustment_id');
        self::assertEquals([
            ['idempotency_key' => 'hl-adj-991', 'code' => 'GC-7', 'amount' => -20, 'reason' => 'POS sale 1001', 'balance_after' => 30],
            ['idempotency_key' => 'hl-adj-992', 'code' => 'GC-7', 'amount' => 5.25, 'reason' => null, 'balance_after' => 35.25],
            ['idempotency_key' => 'hl-adj-993', 'code' => 'GC-7', 'amount' => -35.25, 'reason' => null, 'balance_after' => 0],
        ], $logged);
    }

    public function testReusingAKeyForADifferentAdjustmentIsRefused(): void
    {
        $this->api->create((new GiftCard())->setCode('GC-7')->setBalance(50.0));
        $this->api->adjust('GC-7', (new Adjustment())->setAmount(-20.0)->setIdempotencyKey('k'));

        try {
            $this->api->adjust('GC-7', (new Adjustment())->setAmount(-25.0)->setIdempotencyKey('k'));
            self::fail('expected an InputException (400)');
        } catch (InputException $e) {
            self::assertStringContainsString('already used for another adjustment', $e->getMessage());
        }
        self::assertSame(30.0, $this->store->balance('GC-7'));
    }

    public function testABalanceCannotGoBelowZero(): void
    {
        $this->api->create((new GiftCard())->setCode('GC-7')->setBalance(10.0));

        try {
            $this->api->adjust('GC-7', (new Adjustment())->setAmount(-10.01)->setIdempotencyKey('k'));
            self::fail('expected an InputException');
        } catch (InputException $e) {
            self::assertStringContainsString('below zero', $e->getMessage());
        }
        self::assertSame(10.0, $this->store->balance('GC-7'));
        self::assertNull((new AdjustmentLog($this->world->resource))->find('k'), 'a refused adjustment does not use up its key');
    }

    public function testAFailedBalanceChangeReleasesTheKeySoTheRetryApplies(): void
    {
        $this->api->create((new GiftCard())->setCode('GC-7')->setBalance(10.0));
        $this->store->failNextChange = new \RuntimeException('Deadlock found when trying to get lock');
        $adjustment = (new Adjustment())->setAmount(-4.0)->setIdempotencyKey('retry-me');

        try {
            $this->api->adjust('GC-7', $adjustment);
            self::fail('expected the database error');
        } catch (\RuntimeException $e) {
            self::assertStringContainsString('Deadlock', $e->getMessage());
        }
        $retried = $this->api->adjust('GC-7', $adjustment);

        self::assertSame(6.0, $retried->getBalance());
    }

    /** @dataProvider invalidAdjustments */
    public function testInvalidAdjustmentsAreRefused(Adjustment $adjustment, string $field): void
    {
        $this->api->create((new GiftCard())->setCode('GC-7')->setBalance(10.0));
        $this->expectException(InputException::class);
        $this->expectExceptionMessage($field);

        $this->api->adjust('GC-7', $adjustment);
    }

    public function testHistoryListsEveryBalanceChangeWithTheKeysOfOurAdjustments(): void
    {
        $this->api->create((new GiftCard())->setCode('GC-H1')->setBalance(50.0));
        $this->api->create((new GiftCard())->setCode('GC-H2')->setBalance(10.0));
        $this->world->clock->advance(60);
        $this->api->adjust('gc-h1', (new Adjustment())->setAmount(-20.0)->setIdempotencyKey('heartland-adj:7')->setReason('POS sale'));
        $this->store->changeInStore('GC-H1', -5.0);
        $this->api->adjust('GC-H1', (new Adjustment())->setAmount(-20.0)->setIdempotencyKey('heartland-adj:7'));

        $all = $this->api->getHistory('GC-H1');
        self::assertSame(
            [[1, 'created', 50.0, 50.0, null, null], [3, 'updated', -20.0, 30.0, 'heartland-adj:7', 'POS sale'],
                [4, 'used', -5.0, 25.0, null, null]],
            array_map(static fn ($e) => [$e->getId(), $e->getAction(), $e->getBalanceDelta(), $e->getBalanceAmount(),
                $e->getIdempotencyKey(), $e->getReason()], $all),
            'a replayed key writes no second row; a change made in the store has no key'
        );
        self::assertSame('GC-H1', $all[0]->getCode());
        $since = $this->world->clock->format($this->world->clock->now());
        self::assertSame([3, 4], array_map(static fn ($e) => $e->getId(), $this->api->getHistory(null, $since)));
        self::assertSame([2], array_map(static fn ($e) => $e->getId(), $this->api->getHistory(null, null, 1, 1)));
        self::assertSame([4], array_map(static fn ($e) => $e->getId(), $this->api->getHistory('', null, 3)));
    }

    public function testHistoryRefusesBadArguments(): void
    {
        $this->api->create((new GiftCard())->setCode('GC-H3')->setBalance(5.0));
        foreach ([
            [static fn ($api) => $api->getHistory(null, null, 0, 0), '"pageSize"'],
            [static fn ($api) => $api->getHistory(null, null, 0, 1001), '"pageSize"'],
            [static fn ($api) => $api->getHistory(null, null, -1), '"afterId"'],
            [static fn ($api) => $api->getHistory(null, '2026-13-01'), '"since"'],
        ] as [$call, $field]) {
            try {
                $call($this->api);
                self::fail("expected an InputException naming {$field}");
            } catch (InputException $e) {
                self::assertStringContainsString($field, $e->getMessage());
            }
        }
        $this->expectException(NoSuchEntityException::class);
        $this->api->getHistory('NOPE');
    }

    /** @return array<string, array{Adjustment, string}> */
    public static function invalidAdjustments(): array
    {
        return [
            'zero amount' => [(new Adjustment())->setAmount(0.0)->setIdempotencyKey('k'), '"amount"'],
            'no key' => [(new Adjustment())->setAmount(1.0)->setIdempotencyKey('  '), '"idempotency_key"'],
            'key too long' => [(new Adjustment())->setAmount(1.0)->setIdempotencyKey(str_repeat('k', 129)), '"idempotency_key"'],
        ];
    }

    /** @param list<string> $modules */
    private function management(array $modules): AccountManagement
    {
        return new AccountManagement(new Manager($modules), $this->store, new AdjustmentLog($this->world->resource), $this->world->clock);
    }
}
