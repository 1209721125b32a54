use super::*;

#[tokio::test]
async fn the_memory_store_honours_the_object_contract() {
    crate::contract::object_store(&MemoryStore::new(), "contract").await;
}
