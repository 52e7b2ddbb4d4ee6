"""The Instacart generator writes Kaggle's layout with its invariants and documented habits; the loader reads
hand-made lines in the real layout, zipped or not."""

from __future__ import annotations

import zipfile

import numpy as np
import pandas as pd
import pytest

from workshop.datasets import instacart

HEADERS = {
    "orders": "order_id,user_id,eval_set,order_number,order_dow,order_hour_of_day,days_since_prior_order",
    "order_products__prior": "order_id,product_id,add_to_cart_order,reordered",
    "order_products__train": "order_id,product_id,add_to_cart_order,reordered",
    "products": "product_id,product_name,aisle_id,department_id",
    "aisles": "aisle_id,aisle",
    "departments": "department_id,department",
}
# Hand-made in the real files' layout: the hour is zero-padded, a first order has no days_since_prior_order,
# a product name with a comma is quoted.
REAL = {
    "orders": "2539329,1,prior,1,2,08,\n2398795,1,prior,2,3,07,15.0\n1187899,1,train,3,4,08,14.0\n"
              "2774568,3,test,1,5,15,\n",
    "order_products__prior": "2539329,196,1,0\n2539329,14084,2,0\n2398795,196,1,1\n",
    "order_products__train": "1187899,196,1,1\n1187899,10258,2,0\n",
    "products": '196,Soda,77,7\n10258,Pistachios,117,19\n14084,"Organic Unsweetened Almond Milk, Vanilla",91,16\n',
    "aisles": "77,soft drinks\n91,soy lactosefree\n117,nuts seeds dried fruit\n",
    "departments": "7,beverages\n16,dairy eggs\n19,snacks\n",
}


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    return instacart.generate(tmp_path_factory.mktemp("instacart"), users=400, seed=3)


@pytest.fixture(scope="module")
def data(generated):
    return instacart.load(generated)


def test_the_six_files_have_kaggles_headers_and_the_same_seed_writes_the_same_bytes(generated, tmp_path):
    for name, header in HEADERS.items():
        assert (generated / f"{name}.csv").read_text().splitlines()[0] == header
    again = instacart.generate(tmp_path / "again", users=400, seed=3)
    other = instacart.generate(tmp_path / "other", users=400, seed=4)
    for name in instacart.FILES:
        assert (again / f"{name}.csv").read_bytes() == (generated / f"{name}.csv").read_bytes()
    assert (other / "orders.csv").read_bytes() != (generated / "orders.csv").read_bytes()


def test_orders_are_numbered_per_user_with_one_last_train_or_test_order(data):
    orders = data.orders
    assert orders["order_id"].is_unique
    for _, user in orders.groupby("user_id"):
        assert list(user["order_number"]) == list(range(1, len(user) + 1))
        assert instacart.MIN_ORDERS <= len(user) <= instacart.MAX_ORDERS
        assert set(user["eval_set"].iloc[:-1]) == {"prior"} and user["eval_set"].iloc[-1] in ("train", "test")
    first = orders["order_number"] == 1
    assert orders.loc[first, "days_since_prior_order"].isna().all()
    assert orders.loc[~first, "days_since_prior_order"].between(0, 30).all()
    assert orders["order_dow"].between(0, 6).all() and orders["order_hour_of_day"].between(0, 23).all()
    share_test = (orders["eval_set"] == "test").sum() / orders["user_id"].nunique()
    assert 0.25 < share_test < 0.47


def test_products_of_orders_follow_the_layout_and_reordered_means_bought_before(data):
    orders = data.orders.set_index("order_id")
    prior_ids = set(orders.index[orders["eval_set"] == "prior"])
    train_ids = set(orders.index[orders["eval_set"] == "train"])
    assert set(data.prior["order_id"]) == prior_ids
    assert set(data.train["order_id"]) == train_ids
    items = pd.concat([data.prior, data.train]).join(orders[["user_id", "order_number"]], on="order_id")
    for _, order in items.groupby("order_id"):
        assert sorted(order["add_to_cart_order"]) == list(range(1, len(order) + 1))
        assert order["product_id"].is_unique
    items = items.sort_values(["user_id", "order_number"])
    bought_before = items.groupby(["user_id", "product_id"]).cumcount() > 0
    assert (items["reordered"] == bought_before.astype(int)).all()
    assert set(items["product_id"]) <= set(data.products["product_id"])
    assert set(data.products["aisle_id"]) <= set(data.aisles["aisle_id"])
    assert list(data.departments["department"][:4]) == ["frozen", "other", "bakery", "produce"]


def test_staples_are_reordered_far_more_than_one_offs_and_popularity_has_a_long_tail(data):
    items = data.prior.merge(data.products, on="product_id").merge(data.aisles, on="aisle_id")
    by_aisle = items.groupby("aisle")["reordered"].mean()
    assert by_aisle["milk"] > 0.65 and by_aisle["fresh fruits"] > 0.65
    assert by_aisle["spices seasonings"] < 0.3 and by_aisle["cleaning products"] < 0.3
    counts = np.sort(data.prior["product_id"].value_counts().to_numpy())[::-1]
    assert counts[: len(counts) // 10].sum() > 0.4 * counts.sum()
    assert 0.5 < data.prior["reordered"].mean() < 0.75


def test_users_have_different_rhythms(data):
    gaps = data.orders.groupby("user_id")["days_since_prior_order"].mean()
    assert (gaps < 9).mean() > 0.2 and (gaps > 20).mean() > 0.1


def test_the_loader_reads_the_real_layout_zipped_or_not(tmp_path):
    for name, rows in REAL.items():
        text = HEADERS[name] + "\n" + rows
        if name == "orders":  # Kaggle serves each file as <name>.csv.zip
            with zipfile.ZipFile(tmp_path / "orders.csv.zip", "w") as archive:
                archive.writestr("orders.csv", text)
        else:
            (tmp_path / f"{name}.csv").write_text(text)
    data = instacart.load(tmp_path)
    assert list(data.orders["order_hour_of_day"]) == [8, 7, 8, 15]
    assert np.isnan(data.orders["days_since_prior_order"].iloc[0]) and data.orders["days_since_prior_order"][1] == 15
    assert list(data.orders["eval_set"]) == ["prior", "prior", "train", "test"]
    assert data.products.set_index("product_id").loc[14084, "product_name"] == "Organic Unsweetened Almond Milk, Vanilla"
    assert data.prior["reordered"].tolist() == [0, 0, 1] and data.train["product_id"].tolist() == [196, 10258]
    assert data.orders["order_id"].dtype == np.int32 and data.prior["reordered"].dtype == np.int8


def test_missing_files_and_columns_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="lacks orders.csv, order_products__prior.csv.*kaggle"):
        instacart.load(tmp_path)
    for name, rows in REAL.items():
        (tmp_path / f"{name}.csv").write_text(HEADERS[name] + "\n" + rows)
    (tmp_path / "aisles.csv").write_text("aisle_id\n1\n")
    with pytest.raises(ValueError, match=r"aisles.csv lacks the column\(s\) \['aisle'\]"):
        instacart.load(tmp_path)
