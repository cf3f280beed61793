import { resourceTypeFromController } from './audit-target.resolver';

describe('resourceTypeFromController', () => {
  it.each([
    ['AccountsController', 'account'],
    ['CompanyPoliciesController', 'company-policy'],
    ['AddressesController', 'address'],
    ['UsersController', 'user'],
    ['BoxesController', 'box'],
    ['BranchesController', 'branch'],
    ['WishesController', 'wish'],
    ['ApiKeysController', 'api-key'],
    ['V2OrdersController', 'v2-order'],
  ])('derives a singular, kebab-case type: %s -> %s', (controller, expected) => {
    expect(resourceTypeFromController(controller)).toBe(expected);
  });

  it.each([
    ['HealthController', 'health'],
    ['AccessController', 'access'],
    ['StatusController', 'status'],
  ])('keeps an already singular name: %s -> %s', (controller, expected) => {
    expect(resourceTypeFromController(controller)).toBe(expected);
  });

  it.each([
    ['LicensesController', 'license'],
    ['ExpensesController', 'expense'],
    ['MoviesController', 'movie'],
  ])('singularizes common plurals that end like -ses/-ies: %s -> %s', (controller, expected) => {
    expect(resourceTypeFromController(controller)).toBe(expected);
  });

  it('works on a class name without the Controller suffix', () => {
    expect(resourceTypeFromController('Invoices')).toBe('invoice');
  });
});
